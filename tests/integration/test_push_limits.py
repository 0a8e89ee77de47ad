"""One mobile number gets at most 3 push requests in 10 minutes whoever sends them (issue 13,
1: staff sends had no limit at all): counted in `create_request`, the command staff, the
portal, bulk sends and retries share, atomically on both databases; a refused send is told
in the sender's language and writes nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.errors import Conflict
from payrequest.jobs.models import Job
from payrequest.kit.clock import utcnow
from payrequest.payment_requests import push_limits
from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.push_limits import PushLimited
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.providers.base import Capabilities, UserFlow
from payrequest.ratelimit import service as ratelimit
from tests.factories import make_customer, make_invoice
from tests.staff import app_client, create_staff, csrf_of, sign_in

Sessions = async_sessionmaker[AsyncSession]
LIFETIME = Lifetime(60, Capabilities())
AT_ONCE = 12
PHONE = "+47 975 40 218"


async def _customers_sharing_a_phone(sessions: Sessions, count: int) -> list[tuple[int, int]]:
    """`count` customers with one invoice each, all with PHONE: (customer id, invoice id)."""
    made = []
    async with sessions() as session, session.begin():
        for n in range(count):
            customer = await make_customer(session, name=f"Kunde {n}", phone=PHONE)
            invoice = await make_invoice(session, customer, amount=10_000)
            made.append((customer.id, invoice.id))
    return made


async def _counts(sessions: Sessions) -> tuple[int, int]:
    async with sessions() as session:
        requests = await session.scalar(select(func.count(PaymentRequest.id)))
        jobs = await session.scalar(select(func.count(Job.id)))
    return int(requests or 0), int(jobs or 0)


async def test_simultaneous_pushes_to_one_phone_are_limited_whoever_sends(
    sessions: Sessions,
) -> None:
    pairs = await _customers_sharing_a_phone(sessions, AT_ONCE)
    ready = asyncio.Barrier(AT_ONCE)
    origins = ["staff", "portal", "bulk", "api"]

    async def send(n: int, customer_id: int, invoice_id: int) -> str:
        try:
            async with sessions() as session, session.begin():
                await ready.wait()
                await create_request(
                    session,
                    data=NewPaymentRequest(
                        customer_id=customer_id,
                        invoice_ids=[invoice_id],
                        phone=["97540218", "975 40 218", "+47 975 40 218"][n % 3],
                        origin=origins[n % 4],
                    ),
                    lifetime=LIFETIME,
                )
                await asyncio.sleep(0.05)  # the rest of the request's transaction
        except PushLimited as exc:
            assert exc.code == "push_limited" and exc.field == "phone"
            return "refused"
        return "sent"

    outcomes = await asyncio.gather(*(send(n, *pair) for n, pair in enumerate(pairs)))
    assert outcomes.count("sent") == 3 and outcomes.count("refused") == AT_ONCE - 3
    assert await _counts(sessions) == (3, 3)  # the refused wrote nothing, not even a job


async def test_qr_requests_are_not_pushes_and_a_failed_send_is_not_counted(
    sessions: Sessions,
) -> None:
    pairs = await _customers_sharing_a_phone(sessions, 5)
    for customer_id, invoice_id in pairs:
        async with sessions() as session, session.begin():
            await create_request(
                session,
                data=NewPaymentRequest(
                    customer_id=customer_id, invoice_ids=[invoice_id], user_flow=UserFlow.qr
                ),
                lifetime=LIFETIME,
            )
    customer_id, invoice_id = pairs[0]
    with pytest.raises(Conflict):  # the invoice is taken: this push is not counted
        async with sessions() as session, session.begin():
            await create_request(
                session,
                data=NewPaymentRequest(
                    customer_id=customer_id, invoice_ids=[invoice_id], phone=PHONE
                ),
                lifetime=LIFETIME,
            )
    async with sessions() as session:
        since = utcnow() - timedelta(hours=1)
        assert await ratelimit.count(session, key=push_limits.key("+4797540218"), since=since) == 0


async def test_staff_are_told_in_their_language_and_nothing_is_sent(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    ((customer_id, invoice_id),) = await _customers_sharing_a_phone(sessions, 1)
    async with sessions() as session, session.begin():
        for _ in range(3):  # three pushes already went to the number, from anywhere
            await ratelimit.hit(session, key=push_limits.key("+4797540218"))
    await create_staff(sessions, roles=["staff"], locale="en")
    async with app_client(database_url, tmp_path, run_worker=False) as client:
        await sign_in(client, "staff")
        page = await client.get(f"/customers/{customer_id}")
        sent = await client.post(
            f"/customers/{customer_id}/requests",
            data={
                "invoice_ids": str(invoice_id),
                "phone": "975 40 218",
                "csrf": csrf_of(page.text),
            },
        )
        assert sent.status_code == 303
        shown = (await client.get(sent.headers["location"])).text
    assert "This mobile number has been sent several payment requests in a short time." in shown
    assert await _counts(sessions) == (0, 0)
