"""How payrequest reacts when the sales unit at Vipps MobilePay is not what its settings say,
over real HTTP against the live server, its worker and the emulator's switches
(docs/vipps.md#the-emulators-switches): the card says what to change, in the staff member's
language; nothing is sent twice; Retry avoids what was refused. And a second webhook
registration of our address: its deliveries are named apart from forgeries, the check finds
it, and it is removed only when a person says so."""

from __future__ import annotations

import html
import io
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta

import httpx
import pytest
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest import cli_vipps
from payrequest.customers.models import Customer
from payrequest.inbound.models import InboundEvent
from payrequest.jobs.models import Job
from payrequest.payment_requests import bulk
from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.service import SEND_JOB, Lifetime
from payrequest.providers.base import OneProvider, PaymentNotFound
from payrequest.providers.vipps.provider import VippsProvider
from payrequest.ratelimit.models import RateLimitHit
from payrequest.runtime import build_runtime
from payrequest.web.webhooks import FOREIGN_KEY
from tests.factories import make_customer, make_invoice
from tests.integration.portal_helpers import sign_in as portal_sign_in
from tests.integration.portal_helpers import submit_pay
from tests.lifecycle.conftest import Emulator, LiveServer, wait_for_status, wait_until
from tests.staff import create_staff, csrf_of, sign_in

pytestmark = pytest.mark.usefixtures("webhook_ready")
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def http(live: LiveServer, sessions: Sessions) -> AsyncIterator[httpx.AsyncClient]:
    """An owner who reads Norwegian."""
    await create_staff(sessions, roles=("owner",), locale="nb")
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        await sign_in(client, "owner")
        yield client


async def _customer(
    sessions: Sessions, *amounts: int, phone: str = "+4791234567"
) -> tuple[int, list[int]]:
    async with sessions() as session, session.begin():
        customer = await make_customer(session, phone=phone)
        customer.locale = "nb"
        ids = [
            (await make_invoice(session, customer, amount=amount, due_in_days=n)).id
            for n, amount in enumerate(amounts or (40_000,))
        ]
        return customer.id, ids


async def _send(http: httpx.AsyncClient, customer_id: int, ids: list[int], **fields: str) -> None:
    card = (await http.get(f"/customers/{customer_id}")).text
    data = {"csrf": csrf_of(card), "invoice_ids": [str(i) for i in ids], **fields}
    response = await http.post(f"/customers/{customer_id}/requests", data=data)
    assert response.status_code == 303, response.text


async def _retry(http: httpx.AsyncClient, request: PaymentRequest, **fields: str) -> str:
    """Press Retry on the card; the page it goes back to."""
    card = (await http.get(f"/customers/{request.customer_id}")).text
    data = {"csrf": csrf_of(card), **fields}
    response = await http.post(f"/requests/{request.id}/retry", data=data)
    assert response.status_code == 303, response.text
    return html.unescape((await http.get(response.headers["location"])).text)


async def _requests(sessions: Sessions, customer_id: int) -> list[PaymentRequest]:
    async with sessions() as session:
        stmt = select(PaymentRequest).where(PaymentRequest.customer_id == customer_id)
        return list((await session.execute(stmt.order_by(PaymentRequest.id))).scalars())


async def _row(http: httpx.AsyncClient, request: PaymentRequest) -> str:
    """The request's row on the customer card, as text."""
    card = (await http.get(f"/customers/{request.customer_id}")).text
    row = card.split(f'data-request="{request.reference}"', 1)[1].split("</tr>", 1)[0]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)))


async def _created_at_vipps(provider: VippsProvider, reference: str) -> bool:
    try:
        await provider.get_payment(reference)
    except PaymentNotFound:
        return False
    return True


async def _send_job_done(sessions: Sessions, reference: str) -> None:
    """The send job ran and finished: it is not waiting to send the request again."""

    async def done(session: AsyncSession) -> bool:
        stmt = select(Job.status).where(Job.kind == SEND_JOB, Job.dedupe_key == f"send:{reference}")
        return (await session.execute(stmt)).scalar_one() == "done"

    await wait_until(sessions, done, what=f"the send job of {reference} to be done")


async def test_long_living_refused_by_the_sales_unit_is_said_and_retry_asks_ten_minutes(
    http: httpx.AsyncClient, sessions: Sessions, emulator: Emulator, provider: VippsProvider
) -> None:
    """Our setting says long-living requests are approved; the sales unit says no (5050)."""
    await emulator.faults(long_living_approved=False)
    customer_id, ids = await _customer(sessions)
    await _send(http, customer_id, ids, phone="91234567", flow="push", expiry="60")
    [first] = await _requests(sessions, customer_id)
    assert (first.status, first.failure_code) == ("failed", "5050")
    row = await _row(http, first)
    assert "Vipps MobilePay har ikke godkjent dette salgsstedet for forespørsler" in row
    assert "PAYREQUEST_VIPPS__LONG_LIVING_APPROVED=false" in row
    await _send_job_done(sessions, first.reference)
    assert not await _created_at_vipps(provider, first.reference)
    assert len(await _requests(sessions, customer_id)) == 1  # not sent again by itself

    await _retry(http, first, flow="push", phone="91234567")
    _, second = await _requests(sessions, customer_id)
    await wait_for_status(sessions, second.reference, "pending")
    lifetime = second.expires_at - second.created_at
    assert lifetime == pytest.approx(timedelta(minutes=10), abs=timedelta(seconds=5))
    assert await emulator.events(second.reference) == ["CREATED"]


async def test_push_refused_by_the_sales_unit_is_said_and_retry_goes_by_qr_code(
    http: httpx.AsyncClient, sessions: Sessions, emulator: Emulator, provider: VippsProvider
) -> None:
    await emulator.faults(push_message_approved=False)
    customer_id, ids = await _customer(sessions)
    await _send(http, customer_id, ids, phone="91234567", flow="push")
    [first] = await _requests(sessions, customer_id)
    assert (first.status, first.failure_code) == ("failed", "5080")
    assert "tillater ikke forespørsler med push-varsel" in await _row(http, first)

    page = await _retry(http, first, flow="push", phone="91234567")
    assert "velg QR-kode / lenke" in page  # refused here, before anything is sent
    assert len(await _requests(sessions, customer_id)) == 1

    await _retry(http, first, flow="qr")
    _, second = await _requests(sessions, customer_id)
    await wait_for_status(sessions, second.reference, "pending")
    assert second.user_flow == "qr" and second.redirect_url
    assert await _created_at_vipps(provider, second.reference)


async def test_an_unverified_bank_account_stops_sending_until_it_is_verified(
    http: httpx.AsyncClient, sessions: Sessions, emulator: Emulator, provider: VippsProvider
) -> None:
    """Every create is refused (5060): the request fails once with what to do, its job does
    not send it again, and a bulk run stops at the first refusal instead of trying every
    customer; once the account is verified, a re-run sends the rest and Retry works."""
    await emulator.faults(bank_account_verified=False)
    customer_id, ids = await _customer(sessions)
    await _send(http, customer_id, ids, phone="91234567", flow="push")
    [first] = await _requests(sessions, customer_id)
    assert (first.status, first.failure_code) == ("failed", "5060")
    assert "bankkontoen er ikke bekreftet" in await _row(http, first)
    await _send_job_done(sessions, first.reference)

    # Numbers of their own: one number gets at most 3 pushes in 10 minutes.
    others = [
        (await _customer(sessions, 10_000 + n, phone=f"+4791234{560 + n}"))[0] for n in range(3)
    ]
    async with sessions() as session:
        stmt = select(Customer.number).where(Customer.id.in_(others))
        numbers = tuple(str(number) for number in (await session.execute(stmt)).scalars())
    batch = bulk.BulkFilter(currency="NOK", customer_numbers=numbers)

    async def run() -> bulk.Summary:
        return await bulk.run(
            sessions,
            OneProvider(provider),
            lifetime=Lifetime(60, provider.capabilities),
            bulk_filter=batch,
            batch_id="unverified",
            concurrency=1,
        )

    stopped = await run()
    assert (stopped.failed, stopped.sent) == (1, 0)
    assert stopped.stopped is not None and "bank account is not verified" in stopped.stopped
    assert await _batch_size(sessions, "unverified") == 1

    await emulator.faults(bank_account_verified=True)
    resumed = await run()
    assert (resumed.sent, resumed.already_done, resumed.stopped) == (2, 1, None)
    await _retry(http, first, flow="push", phone="91234567")
    _, second = await _requests(sessions, customer_id)
    await wait_for_status(sessions, second.reference, "pending")


async def _batch_size(sessions: Sessions, batch_id: str) -> int:
    """How many requests of the bulk batch exist."""
    async with sessions() as session:
        stmt = select(func.count()).where(
            PaymentRequest.reference.like(bulk.batch_prefix(batch_id) + "%")
        )
        return int((await session.execute(stmt)).scalar_one())


async def test_a_sales_unit_taking_full_captures_only_gets_the_whole_of_a_part_payment(
    http: httpx.AsyncClient, sessions: Sessions, emulator: Emulator
) -> None:
    """A part payment asks for less than is open, but its payment is for that part and is
    captured whole: a sales unit set to full captures only (6140) never refuses ours."""
    await emulator.faults(full_capture_only=True)
    customer_id, ids = await _customer(sessions, 20_000, 30_000)
    await _send(http, customer_id, ids, phone="91234567", amount="350,00", currency="NOK")
    [request] = await _requests(sessions, customer_id)
    assert request.amount == 35_000
    await emulator.approve(request.reference)
    await wait_for_status(sessions, request.reference, "paid")
    response = await emulator.provider.client.call(
        "GET", f"/epayment/v1/payments/{request.reference}/events"
    )
    captured = [e["amount"]["value"] for e in response.json() if e["name"] == "CAPTURED"]
    assert captured == [35_000]


async def _register_elsewhere(provider: VippsProvider, url: str) -> str:
    """A second registration of our address, made with the same keys by someone else: we
    never see its secret."""
    response = await provider.client.call(
        "POST",
        "/webhooks/v1/webhooks",
        json={"url": url, "events": ["epayments.payment.authorized.v1"]},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _foreign_delivered(session: AsyncSession) -> bool:
    stmt = select(func.count()).where(RateLimitHit.key == FOREIGN_KEY)
    return int((await session.execute(stmt)).scalar_one()) > 0


async def test_a_second_registration_of_our_address_is_named_found_and_removed_by_an_owner(
    http: httpx.AsyncClient, sessions: Sessions, emulator: Emulator, provider: VippsProvider
) -> None:
    url = provider.webhook_url
    elsewhere = await _register_elsewhere(provider, url)
    customer_id, ids = await _customer(sessions)
    await _send(http, customer_id, ids, phone="91234567", flow="push")
    [request] = await _requests(sessions, customer_id)
    await emulator.approve(request.reference)
    await wait_for_status(sessions, request.reference, "paid")
    await wait_until(sessions, _foreign_delivered, what="a delivery of the other registration")
    async with sessions() as session:
        stmt = select(InboundEvent.event_name).where(InboundEvent.reference == request.reference)
        stored = Counter(str(name) for name in (await session.execute(stmt)).scalars())
    assert stored["authorized"] == 1  # ours, once; the other registration's copy is refused

    operations = (await http.get("/operations")).text
    assert 'data-rejected-count="0"' in operations  # not counted as forged
    assert re.search(r'data-foreign-count="[1-9]\d*"', operations)
    assert "data-foreign-note" in operations

    page = (await http.get("/settings")).text
    checked = html.unescape((await http.post("/settings/check", data={"csrf": csrf_of(page)})).text)
    foreign = checked.split('data-finding="webhook.foreign"', 1)[1].split("</li>", 1)[0]
    assert elsewhere in foreign and 'data-finding-ok="no"' in checked
    for key in ("credentials", "webhook.ours", "sales_unit.payments", "sales_unit.push"):
        assert f'data-finding="{key}" data-finding-ok="yes"' in checked, key
    assert 'data-finding="sales_unit.long_living" data-finding-ok="yes"' in checked

    removed = await http.post(
        "/settings/webhook/remove-foreign",
        data={"csrf": csrf_of(checked), "endpoint_ids": [elsewhere]},
    )
    assert removed.status_code == 303
    left = {hook.endpoint_id: hook.url for hook in await provider.list_webhooks()}
    assert elsewhere not in left and list(left.values()) == [url]


async def test_vipps_check_removes_another_registration_only_when_the_person_agrees(
    live: LiveServer, provider: VippsProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = await _register_elsewhere(provider, provider.webhook_url)
    printed = io.StringIO()
    monkeypatch.setattr(cli_vipps, "console", Console(file=printed, width=400))
    asked: list[list[str]] = []

    def answer(yes: bool) -> Callable[[Sequence[str]], bool]:
        def ask(ids: Sequence[str]) -> bool:
            asked.append(list(ids))
            return yes

        return ask

    runtime = build_runtime(live.settings)
    kept = await cli_vipps._check(runtime, round_trip=False, wait=0, ask=answer(False))
    assert kept is False and asked == [[elsewhere]]
    assert elsewhere in {hook.endpoint_id for hook in await provider.list_webhooks()}
    assert (
        f"registrations for {provider.webhook_url} whose secret payrequest does not hold: "
        f"{elsewhere}." in printed.getvalue()
    )

    runtime = build_runtime(live.settings)
    removed = await cli_vipps._check(runtime, round_trip=False, wait=0, ask=answer(True))
    assert removed is True
    assert elsewhere not in {hook.endpoint_id for hook in await provider.list_webhooks()}
    assert f"removed the registrations {elsewhere}" in printed.getvalue()


async def test_staff_read_at_once_that_the_request_was_refused(
    http: httpx.AsyncClient, sessions: Sessions, emulator: Emulator
) -> None:
    """A create refused on the spot is not announced as "sent"."""
    await emulator.faults(bank_account_verified=False)
    customer_id, ids = await _customer(sessions)
    card = (await http.get(f"/customers/{customer_id}")).text
    data = {"csrf": csrf_of(card), "invoice_ids": [str(i) for i in ids], "phone": "91234567"}
    response = await http.post(
        f"/customers/{customer_id}/requests", data=data, follow_redirects=True
    )
    page = html.unescape(response.text)
    assert "Forespørselen ble avvist" in page
    assert "Betalingsforespørselen er sendt." not in page


async def test_the_customer_is_not_shown_the_business_settings_reason(
    live: LiveServer, sessions: Sessions, emulator: Emulator
) -> None:
    """The reason for staff names settings and the business portal; the customer paying in
    the portal reads that the problem is on the business's side."""
    await emulator.faults(bank_account_verified=False)
    customer_id, ids = await _customer(sessions)
    async with sessions() as session, session.begin():
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        customer.portal_access = True
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as portal:
        await portal_sign_in(portal, sessions, customer_id)
        form = (await portal.get(f"/portal/pay?invoice_ids={ids[0]}")).text
        paid = await submit_pay(portal, form, [ids[0]], method="push", phone="91234567")
        assert paid.status_code == 303, paid.text
        page = html.unescape((await portal.get(paid.headers["location"])).text)
    assert "problem på bedriftens side" in page
    assert "bankkonto" not in page and "PAYREQUEST_" not in page
