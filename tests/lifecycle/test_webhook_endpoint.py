"""`POST /webhooks/vipps` as Vipps MobilePay calls it: signed for the public URL, raw body."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.config import secret_key
from payrequest.db.scope import ALL, scoped_to
from payrequest.events.models import OutboxEvent
from payrequest.inbound.models import InboundEvent
from payrequest.inbound.registrations import WebhookRegistration
from payrequest.jobs.models import Job
from payrequest.kit.crypto import SecretBox
from payrequest.kit.money import Money
from payrequest.ledger.models import Allocation
from payrequest.payment_requests import apply
from payrequest.payment_requests.models import (
    PaymentRequest,
    PaymentRequestEvent,
    PaymentRequestInvoice,
)
from payrequest.providers.base import PaymentSnapshot, ProviderState
from payrequest.providers.vipps import signature
from payrequest.providers.vipps.provider import VippsProvider
from tests.factories import make_customer, make_invoice
from tests.lifecycle.conftest import LiveServer, send_request

pytestmark = pytest.mark.usefixtures("webhook_ready")
Sessions = async_sessionmaker[AsyncSession]


async def _secret(sessions: Sessions, live: LiveServer) -> str:
    async with sessions() as session:
        stmt = select(WebhookRegistration).where(WebhookRegistration.provider == "vipps")
        row = (await session.execute(stmt)).scalar_one()
    return SecretBox(secret_key(live.settings)).open(row.secret_encrypted)


def _body(reference: str = "unknown-ref-0001", name: str = "AUTHORIZED", psp: str = "p-1") -> bytes:
    payload = {
        "msn": "123456",
        "reference": reference,
        "pspReference": psp,
        "name": name,
        "amount": {"currency": "NOK", "value": 1000},
        "timestamp": "2026-11-21T10:00:00.1234567Z",
        "idempotencyKey": None,
        "success": True,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def _headers(
    secret: str, url: str, body: bytes, *, header: str = "Authorization"
) -> dict[str, str]:
    date = format_datetime(datetime.now(UTC), usegmt=True)
    return {
        "x-ms-date": date,
        "x-ms-content-sha256": signature.content_hash(body),
        header: signature.authorization(secret, url, date, body),
        "content-type": "application/json; charset=utf-8",
    }


async def _count(sessions: Sessions) -> int:
    """Rows of the whole inbox (an event no payment matches belongs to no organisation)."""
    async with sessions(info=scoped_to(ALL)) as session:
        return int((await session.execute(select(func.count(InboundEvent.id)))).scalar_one())


async def _post(live: LiveServer, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(f"{live.url}/webhooks/vipps", content=body, headers=headers)


async def test_genuine_event_is_stored_once_and_always_acknowledged(
    sessions: Sessions, live: LiveServer
) -> None:
    secret = await _secret(sessions, live)
    url = f"{live.url}/webhooks/vipps"
    body = _body()
    first = await _post(live, body, _headers(secret, url, body))
    assert first.status_code == 200 and first.json()["status"] == "unmatched"
    again = await _post(live, body, _headers(secret, url, body))
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert await _count(sessions) == 1


async def test_signature_in_x_vipps_authorization_is_accepted(
    sessions: Sessions, live: LiveServer
) -> None:
    secret = await _secret(sessions, live)
    body = _body(psp="p-2")
    headers = _headers(secret, f"{live.url}/webhooks/vipps", body, header="X-Vipps-Authorization")
    headers["Authorization"] = "Basic c29tZTpwcm94eQ=="  # what a proxy may put there
    response = await _post(live, body, headers)
    assert response.status_code == 200
    assert await _count(sessions) == 1


@pytest.mark.parametrize(
    "forgery", ["wrong-secret", "body", "host", "path", "no-signature", "stale-date"]
)
async def test_forged_webhooks_get_401_and_store_nothing(
    sessions: Sessions, live: LiveServer, forgery: str
) -> None:
    secret = await _secret(sessions, live)
    url = f"{live.url}/webhooks/vipps"
    body = _body(psp=f"forged-{forgery}")
    signed_with, signed_url, sent = secret, url, body
    if forgery == "wrong-secret":
        signed_with = secret[:-2] + "xx"
    elif forgery == "body":
        sent = body.replace(b'"value":1000', b'"value":9000')
    elif forgery == "host":
        signed_url = url.replace("127.0.0.1", "evil.example")
    elif forgery == "path":
        signed_url = url.replace("/webhooks/vipps", "/webhooks/other")
    headers = _headers(signed_with, signed_url, body)
    if forgery == "body":
        headers["x-ms-content-sha256"] = signature.content_hash(sent)
    if forgery == "no-signature":
        del headers["Authorization"]
    if forgery == "stale-date":  # a replay from long ago, correctly signed for its date
        old = "Thu, 30 Mar 2023 08:38:32 GMT"
        headers["x-ms-date"] = old
        headers["Authorization"] = signature.authorization(secret, url, old, body)
    response = await _post(live, sent, headers)
    assert response.status_code == 401
    assert await _count(sessions) == 0


async def test_concurrent_deliveries_allocate_exactly_once(
    sessions: Sessions, live: LiveServer, provider: VippsProvider
) -> None:
    """R4: the same capture arrives six times at once, plus a poll saying the same."""
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoices = [await make_invoice(session, customer, amount=a) for a in (7_000, 8_000)]
    reference = await send_request(
        sessions, provider, customer_id=customer.id, invoice_ids=[i.id for i in invoices]
    )
    secret = await _secret(sessions, live)
    url = f"{live.url}/webhooks/vipps"
    body = _body(reference=reference, name="CAPTURED", psp="capture-1").replace(
        b'"value":1000', b'"value":15000'
    )
    snapshot = PaymentSnapshot(
        reference, ProviderState.authorized, Money(15_000, "NOK"), 15_000, 15_000, 0, 0
    )

    async def poll() -> None:
        async with sessions() as session, session.begin():
            await apply.apply_snapshot(session, snapshot=snapshot, source="poll")

    results = await asyncio.gather(
        *(_post(live, body, _headers(secret, url, body)) for _ in range(6)), poll()
    )
    statuses = sorted(r.json()["status"] for r in results if isinstance(r, httpx.Response))
    assert statuses == ["applied"] + ["duplicate"] * 5
    async with sessions() as session:
        allocations = (
            await session.execute(select(Allocation.invoice_id, Allocation.amount))
        ).all()
        paid_events = (
            await session.execute(
                select(func.count(OutboxEvent.id)).where(OutboxEvent.name == "payment_request.paid")
            )
        ).scalar_one()
    assert sorted(allocations) == sorted((i.id, i.total) for i in invoices)
    assert paid_events == 1


async def test_an_event_that_fails_to_apply_is_kept_acknowledged_and_retried(
    sessions: Sessions, live: LiveServer, provider: VippsProvider
) -> None:
    """Applying fails (here: a link edited by hand to another customer's invoice). The webhook
    still gets 200, nothing of the failed attempt is left behind, the event is kept as `failed`
    with a retry job, and once the data is repaired the job applies it."""
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        own = await make_invoice(session, customer, amount=1_000)
        stranger = await make_customer(session, name="Ola Nordmann", phone="+47 912 34 568")
        foreign = await make_invoice(session, stranger, amount=1_000)
    reference = await send_request(
        sessions, provider, customer_id=customer.id, invoice_ids=[own.id]
    )
    async with sessions() as session, session.begin():
        await session.execute(
            update(PaymentRequestInvoice)
            .where(PaymentRequestInvoice.invoice_id == own.id)
            .values(invoice_id=foreign.id)
        )
    secret = await _secret(sessions, live)
    url = f"{live.url}/webhooks/vipps"
    body = _body(reference=reference, name="CAPTURED", psp="capture-f")

    response = await _post(live, body, _headers(secret, url, body))

    assert response.status_code == 200
    assert response.json() == {"status": "failed"}
    async with sessions() as session:
        row = (
            await session.execute(
                select(InboundEvent).where(
                    InboundEvent.reference == reference, InboundEvent.event_name == "captured"
                )
            )
        ).scalar_one()
        assert row.status == "failed"
        assert row.error is not None and "another customer" in row.error
        request = (
            await session.execute(
                select(PaymentRequest).where(PaymentRequest.reference == reference)
            )
        ).scalar_one()
        assert request.status == "pending"  # the failed attempt left nothing behind
        signals = await session.execute(
            select(func.count(PaymentRequestEvent.id)).where(
                PaymentRequestEvent.payment_request_id == request.id,
                PaymentRequestEvent.provider_event == "captured",
            )
        )
        assert signals.scalar_one() == 0
        retry = await session.execute(
            select(func.count(Job.id)).where(Job.dedupe_key == f"inbound:{row.id}")
        )
        assert retry.scalar_one() == 1

    async with sessions() as session, session.begin():  # repaired: the retry job applies it
        await session.execute(
            update(PaymentRequestInvoice)
            .where(PaymentRequestInvoice.invoice_id == foreign.id)
            .values(invoice_id=own.id)
        )
    for _ in range(200):
        async with sessions() as session:
            status = (
                await session.execute(select(InboundEvent.status).where(InboundEvent.id == row.id))
            ).scalar_one()
            paid = (
                await session.execute(
                    select(PaymentRequest.status).where(PaymentRequest.reference == reference)
                )
            ).scalar_one()
        if status == "applied" and paid == "paid":
            break
        await asyncio.sleep(0.1)
    assert (status, paid) == ("applied", "paid")
