"""The operations page over HTTP: webhook inbox, rejected signatures, jobs and dead-letter retry."""

from __future__ import annotations

import html
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.db.scope import ALL, scoped_to
from payrequest.inbound.models import InboundEvent
from payrequest.jobs import queue
from payrequest.jobs.models import Job
from payrequest.kit.clock import utcnow
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.providers.base import Capabilities
from payrequest.providers.vipps import signature
from payrequest.ratelimit import service as ratelimit
from payrequest.ratelimit.models import RateLimitHit
from payrequest.web.webhooks import FOREIGN_KEY, REJECTED_KEY
from tests.factories import make_customer, make_invoice
from tests.staff import BASE, app_client, create_staff, csrf_of, sign_in

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def client(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    await create_staff(sessions)
    async with app_client(database_url, tmp_path) as http:
        yield http


_csrf = csrf_of
_sign_in = sign_in


async def _inbox_event(
    session: AsyncSession, *, reference: str, name: str, status: str, error: str | None = None
) -> None:
    session.add(
        InboundEvent(
            provider="vipps",
            dedupe_key=f"123456:{reference}:psp:{name}",
            reference=reference,
            event_name=name,
            body="{}",
            headers={},
            status=status,
            error=error,
        )
    )
    await session.flush()


async def _dead_job(session: AsyncSession, *, kind: str = "payment.send", error: str) -> int:
    job = await queue.enqueue(session, kind=kind, payload={"reference": "pr-dead-1"})
    assert job is not None
    job.status = "dead"
    job.attempts = job.max_attempts
    job.last_error = error
    job.finished_at = utcnow()
    await session.flush()
    return job.id


@pytest.mark.parametrize("path", ["/operations", "/settings"])
async def test_pages_refuse_anonymous_visitors(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


async def test_retry_refuses_anonymous_visitors(client: httpx.AsyncClient) -> None:
    response = await client.post("/operations/jobs/1/retry", data={"csrf": "x"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


async def test_inbox_rows_counts_and_filter(client: httpx.AsyncClient, sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session, name="Fjordbakeriet AS")
        invoice = await make_invoice(session, customer, amount=50_000, number="INV-1")
        payment = await create_request(
            session,
            data=NewPaymentRequest(
                customer_id=customer.id, invoice_ids=[invoice.id], phone="+4791234567"
            ),
            lifetime=Lifetime(60, Capabilities()),
        )
        await _inbox_event(session, reference=payment.reference, name="CREATED", status="applied")
        await _inbox_event(
            session, reference=payment.reference, name="AUTHORIZED", status="applied"
        )
        await _inbox_event(session, reference="check-abc", name="CREATED", status="unmatched")
        await _inbox_event(
            session,
            reference="broken-1",
            name="CAPTURED",
            status="failed",
            error="boom: " + "x" * 300,
        )
    await _sign_in(client)
    page = await client.get("/operations")
    assert page.status_code == 200
    html = page.text
    assert 'data-inbox-count="applied">2<' in html
    assert 'data-inbox-count="unmatched">1<' in html
    assert 'data-inbox-count="failed">1<' in html
    assert 'data-inbox-count="received">0<' in html
    assert f'<a href="/requests/{payment.id}">{payment.reference}</a>' in html
    assert "check-abc" in html and "AUTHORIZED" in html
    assert "<details" in html and "boom: " in html  # a long error is folded
    failed_only = (await client.get("/operations?status_filter=failed")).text
    assert "broken-1" in failed_only
    assert payment.reference not in failed_only.split("</ul>", 1)[1]  # rows, not the counters
    assert "check-abc" not in failed_only
    unknown = await client.get("/operations?status_filter=nonsense")
    assert unknown.status_code == 200 and "check-abc" in unknown.text


async def test_rejected_signatures_in_the_last_day(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    # Refused webhooks belong to no organisation: the installation's own counter.
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        for _ in range(3):
            await ratelimit.hit(session, key=REJECTED_KEY)
        session.add(RateLimitHit(key=REJECTED_KEY, created_at=utcnow() - timedelta(hours=25)))
        await ratelimit.hit(session, key="login:ip:127.0.0.1")
    await _sign_in(client)
    html = (await client.get("/operations")).text
    assert 'data-rejected-count="3"' in html


async def test_forged_webhook_is_counted_not_stored(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    forged = await client.post(
        "/webhooks/vipps",
        content=b'{"reference":"forged-1","name":"AUTHORIZED"}',
        headers={"Authorization": "HMAC-SHA256 SignedHeaders=x&Signature=bogus"},
    )
    assert forged.status_code == 401
    assert forged.json() == {"error": "invalid signature"}
    async with sessions(info=scoped_to(ALL)) as session:
        assert (await session.execute(select(InboundEvent))).first() is None
        since = utcnow() - timedelta(minutes=1)
        assert await ratelimit.count(session, key=REJECTED_KEY, since=since) == 1
    await _sign_in(client)
    assert 'data-rejected-count="1"' in (await client.get("/operations")).text


def _signed(body: dict[str, object], secret: str) -> tuple[bytes, dict[str, str]]:
    """A delivery as Vipps MobilePay signs it for our address, with `secret`."""
    raw = json.dumps(body).encode()
    date = format_datetime(datetime.now(UTC), usegmt=True)
    return raw, {
        "Content-Type": "application/json",
        "x-ms-date": date,
        "x-ms-content-sha256": signature.content_hash(raw),
        "Authorization": signature.authorization(secret, f"{BASE}/webhooks/vipps", date, raw),
    }


def _event(msn: str) -> dict[str, object]:
    return {
        "msn": msn,
        "reference": "pr-elsewhere-1",
        "pspReference": "psp-1",
        "name": "AUTHORIZED",
        "amount": {"currency": "NOK", "value": 49_900},
        "timestamp": "2026-11-30T10:00:00.000Z",
        "idempotencyKey": None,
        "success": True,
    }


async def test_a_webhook_signed_by_a_registration_we_hold_no_secret_of_is_named_apart(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    """Whole, on time and for our MSN, but signed with a secret we never got: another
    registration of our address. Refused and not stored all the same, but counted apart."""
    for msn in ("123456", "999999"):  # ours, and one that is not
        raw, headers = _signed(_event(msn), "a-secret-we-never-got-" + msn)
        refused = await client.post("/webhooks/vipps", content=raw, headers=headers)
        assert refused.status_code == 401
    async with sessions(info=scoped_to(ALL)) as session:
        assert (await session.execute(select(InboundEvent))).first() is None
        since = utcnow() - timedelta(minutes=1)
        assert await ratelimit.count(session, key=FOREIGN_KEY, since=since) == 1
        assert await ratelimit.count(session, key=REJECTED_KEY, since=since) == 1
    await _sign_in(client)
    page = html.unescape((await client.get("/operations")).text)
    assert 'data-foreign-count="1"' in page and 'data-rejected-count="1"' in page
    assert (
        "signed with a webhook registration we do not hold the secret of "
        "(see payrequest vipps check)" in page
    )


async def test_jobs_counts_failing_and_dead_letters(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    async with sessions() as session, session.begin():
        await queue.enqueue(session, kind="payment.poll", payload={"reference": "pr-ok"})
        failing = await queue.enqueue(session, kind="payment.poll", payload={"reference": "pr-2"})
        assert failing is not None
        failing.attempts = 2
        failing.last_error = "ProviderError: timeout"
        await _dead_job(session, error="ProviderError: 503 from provider")
    await _sign_in(client)
    html = (await client.get("/operations")).text
    assert 'data-job-count="queued">2<' in html
    assert 'data-job-count="dead">1<' in html
    assert 'data-job-kind="payment.poll"' in html and 'data-job-kind="payment.send"' in html
    failing_part = html.split('id="failing"', 1)[1].split('id="dead-letters"', 1)[0]
    assert "ProviderError: timeout" in failing_part and "2 / 20" in failing_part
    assert "pr-ok" not in failing_part
    dead_part = html.split('id="dead-letters"', 1)[1]
    assert "503 from provider" in dead_part
    assert "pr-dead-1" in dead_part  # the payload
    assert "/retry" in dead_part


async def test_retry_puts_a_dead_letter_back_on_the_queue(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    async with sessions() as session, session.begin():
        job_id = await _dead_job(session, error="gave up")
    await _sign_in(client)
    token = _csrf((await client.get("/operations")).text)
    response = await client.post(f"/operations/jobs/{job_id}/retry", data={"csrf": token})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/operations")
    async with sessions() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        assert (job.status, job.attempts) == ("queued", 0)
    page = (await client.get("/operations")).text
    assert f"Job {job_id} (payment.send) is queued again." in page
    again = await client.post(f"/operations/jobs/{job_id}/retry", data={"csrf": token})
    assert again.status_code == 303
    assert "only a job that gave up can be retried" in (await client.get("/operations")).text
    missing = await client.post("/operations/jobs/999999/retry", data={"csrf": token})
    assert missing.status_code == 303
    assert "does not exist" in (await client.get("/operations")).text


async def test_retry_needs_a_writer_and_a_csrf_token(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    async with sessions() as session, session.begin():
        job_id = await _dead_job(session, error="gave up")
    await _sign_in(client, "readonly")
    page = (await client.get("/operations")).text
    assert "gave up" in page
    assert f"/operations/jobs/{job_id}/retry" not in page  # no button for a read-only user
    refused = await client.post(f"/operations/jobs/{job_id}/retry", data={"csrf": _csrf(page)})
    assert refused.status_code == 403
    client.cookies.clear()
    await _sign_in(client, "staff")
    no_token = await client.post(f"/operations/jobs/{job_id}/retry")
    assert no_token.status_code == 403
    wrong_token = await client.post(
        f"/operations/jobs/{job_id}/retry", data={"csrf": "not-the-token"}
    )
    assert wrong_token.status_code == 403
    async with sessions() as session:
        job = await session.get(Job, job_id)
        assert job is not None and job.status == "dead"
