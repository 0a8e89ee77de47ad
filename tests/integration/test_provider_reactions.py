"""How a request reacts to what Vipps MobilePay answers, on both databases, with the real
provider on a scripted Vipps (httpx.MockTransport): a cancel whose 404 is not "Reference not
found" changes nothing; staff are told when Vipps asked us to wait, and the job does it then."""

from __future__ import annotations

import html
import io
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest import cli_vipps
from payrequest.app import create_app
from payrequest.config import load_settings
from payrequest.jobs.models import Job
from payrequest.payment_requests import apply, repository, workflows
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import SEND_JOB, Lifetime, create_request
from payrequest.payment_requests.state import Status
from payrequest.providers.base import OneProvider, PaymentNotFound, ProviderError
from payrequest.providers.vipps.client import RetryPolicy
from payrequest.providers.vipps.mapping import CANCEL_UNCONFIRMED
from payrequest.providers.vipps.provider import VippsProvider, capabilities_for
from payrequest.runtime import Runtime, build_runtime
from tests.factories import make_customer, make_invoice
from tests.staff import BASE, create_staff, csrf_of, sign_in
from tests.unit.vipps_fakes import FakeVipps, Harnesses, problem

Sessions = async_sessionmaker[AsyncSession]
PAYMENTS = "/epayment/v1/payments"
BARE_404 = httpx.Response(404, json={"statusCode": 404, "message": "Resource not found"})
LIMITED = httpx.Response(
    429,
    json={"statusCode": 429, "message": "Rate limit is exceeded. Try again in 58 seconds."},
    headers={"Retry-After": "58"},
)


@pytest.fixture
async def vipps() -> AsyncIterator[tuple[FakeVipps, VippsProvider]]:
    made = Harnesses()
    harness = made(FakeVipps(), retry=RetryPolicy(attempts=1))
    provider = VippsProvider(
        harness.client,
        webhook_url=f"{BASE}/webhooks/vipps",
        capabilities=capabilities_for("NO", long_living=False),
    )
    yield harness.fake, provider
    await made.aclose()


async def waiting_request(sessions: Sessions, provider: VippsProvider, *, sent: bool) -> int:
    """A request for one invoice; `sent`: created at Vipps (pending), else still sending."""
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoice = await make_invoice(session, customer, amount=49_900)
        request = await create_request(
            session,
            data=NewPaymentRequest(customer_id=customer.id, invoice_ids=[invoice.id]),
            lifetime=Lifetime(10, provider.capabilities),
        )
        if sent:
            await apply.apply_outcome(
                session, reference=request.reference, target=Status.pending, source="system"
            )
        return request.id


async def status_of(sessions: Sessions, request_id: int) -> str:
    async with sessions() as session:
        request = await repository.get(session, request_id)
        assert request is not None
        return str(request.status)


async def reference_of(sessions: Sessions, request_id: int) -> str:
    async with sessions() as session:
        request = await repository.get(session, request_id)
        assert request is not None
        return request.reference


# --- item: only 5090 lets a cancel be ours alone ---------------------------------------------


async def test_a_cancel_answered_with_a_bare_404_and_no_definite_get_changes_nothing(
    sessions: Sessions, vipps: tuple[FakeVipps, VippsProvider]
) -> None:
    fake, provider = vipps
    request_id = await waiting_request(sessions, provider, sent=True)
    one = f"{PAYMENTS}/{await reference_of(sessions, request_id)}"
    fake.on("POST", f"{one}/cancel", BARE_404)
    fake.on("GET", one, problem(503, "Service Unavailable"))
    with pytest.raises(ProviderError) as refused:
        await workflows.cancel(sessions, OneProvider(provider), request_id=request_id, user_id=None)
    assert not isinstance(refused.value, PaymentNotFound)
    assert refused.value.message == CANCEL_UNCONFIRMED
    assert await status_of(sessions, request_id) == "pending"  # the payment may still be live


async def test_a_cancel_answered_with_5090_is_ours_alone(
    sessions: Sessions, vipps: tuple[FakeVipps, VippsProvider]
) -> None:
    fake, provider = vipps
    request_id = await waiting_request(sessions, provider, sent=True)
    one = f"{PAYMENTS}/{await reference_of(sessions, request_id)}"
    fake.on("POST", f"{one}/cancel", problem(404, "Reference not found", code="5090"))
    cancelled = await workflows.cancel(
        sessions, OneProvider(provider), request_id=request_id, user_id=None
    )
    assert cancelled.status == Status.cancelled
    assert fake.api_requests("GET") == []


# --- item: staff are told when Vipps MobilePay asked us to wait ------------------------------


@pytest.fixture
async def runtime(
    database_url: str, tmp_path: Path, vipps: tuple[FakeVipps, VippsProvider]
) -> AsyncIterator[Runtime]:
    """The app's runtime with the scripted provider."""
    settings = load_settings(database_url=database_url, var_dir=tmp_path, public_url=BASE)
    built = build_runtime(settings, provider=vipps[1])
    yield built
    await built.engine.dispose()
    if built.read_engine is not built.engine:
        await built.read_engine.dispose()


@pytest.fixture
async def staff_app(runtime: Runtime, sessions: Sessions) -> AsyncIterator[httpx.AsyncClient]:
    """The app with the scripted provider, signed in as the owner (no worker runs)."""
    app = create_app(runtime.settings, runtime=runtime, run_worker=False)
    await create_staff(sessions)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        await sign_in(http, "owner")
        yield http


async def test_a_send_vipps_asks_to_wait_for_is_left_to_the_job(
    sessions: Sessions, vipps: tuple[FakeVipps, VippsProvider], staff_app: httpx.AsyncClient
) -> None:
    fake, _provider = vipps
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoice = await make_invoice(session, customer, amount=49_900)
        customer_id, invoice_id = customer.id, invoice.id
    fake.on("POST", PAYMENTS, LIMITED)
    page = (await staff_app.get(f"/customers/{customer_id}")).text
    sent = await staff_app.post(
        f"/customers/{customer_id}/requests",
        data={"csrf": csrf_of(page), "invoice_ids": [invoice_id], "flow": "qr"},
        follow_redirects=True,
    )
    assert "The payment service asked us to wait; it will be done in 58 seconds." in sent.text
    assert "Payment request sent." not in sent.text
    async with sessions() as session:
        [send_job] = (await session.scalars(select(Job).where(Job.kind == SEND_JOB))).all()
        [request] = await repository.for_customer(session, customer_id)
    assert send_job.status == "queued"  # the job sends it, with the same key
    assert request.status == Status.sending
    assert len(fake.api_requests("POST")) == 1


async def test_a_cancel_vipps_asks_to_wait_for_is_refused_with_the_wait(
    sessions: Sessions, vipps: tuple[FakeVipps, VippsProvider], staff_app: httpx.AsyncClient
) -> None:
    fake, provider = vipps
    request_id = await waiting_request(sessions, provider, sent=True)
    one = f"{PAYMENTS}/{await reference_of(sessions, request_id)}"
    fake.on("POST", f"{one}/cancel", LIMITED)
    page = (await staff_app.get(f"/requests/{request_id}")).text
    answer = await staff_app.post(
        f"/requests/{request_id}/cancel", data={"csrf": csrf_of(page)}, follow_redirects=True
    )
    assert (
        "The payment service asked us to wait; nothing was changed. Try again in 58 seconds."
        in answer.text
    )
    assert await status_of(sessions, request_id) == "pending"


# --- item: token errors keep their reason ----------------------------------------------------

SECRET_REFUSED = httpx.Response(
    401,
    json={
        "error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: t-1",
        "error_codes": [7000215],
        "trace_id": "6c1f2a3b-0000-4000-8000-00000000aad1",
        "correlation_id": "6c1f2a3b-0000-4000-8000-00000000aad2",
    },
)


async def test_the_settings_page_says_the_client_secret_is_invalid(
    vipps: tuple[FakeVipps, VippsProvider], staff_app: httpx.AsyncClient
) -> None:
    fake, _provider = vipps
    fake.token_answers.append(SECRET_REFUSED)
    page = (await staff_app.get("/settings")).text
    answer = await staff_app.post(
        "/settings/webhook/register", data={"csrf": csrf_of(page)}, follow_redirects=True
    )
    text = html.unescape(answer.text)
    assert "The webhook could not be registered: The client secret is invalid" in text
    assert "(invalid_client: AADSTS7000215: Invalid client secret provided.)" in text
    assert "Unauthorized" not in text and "HTTP 401" not in text


async def test_vipps_check_says_the_client_secret_is_invalid(
    vipps: tuple[FakeVipps, VippsProvider], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, _provider = vipps
    fake.token_answers.append(SECRET_REFUSED)
    printed = io.StringIO()
    monkeypatch.setattr(cli_vipps, "console", Console(file=printed, width=400))
    assert await cli_vipps._check(runtime, round_trip=False, wait=0) is False
    lines = printed.getvalue().splitlines()
    assert lines[0].startswith("✗ The client secret is invalid: Vipps MobilePay did not accept")
    assert lines[1] == (
        "  Vipps MobilePay said: invalid_client: AADSTS7000215: Invalid client secret provided."
        " · HTTP 401 · trace 6c1f2a3b-0000-4000-8000-00000000aad1"
    )
