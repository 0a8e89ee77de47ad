"""Two refunds of one payment finishing at the same moment on PostgreSQL (staff pressing
Refund twice, or a job and an inline send): both settle, neither is lost to a deadlock.

Each finish takes the request's row lock before anything else, so the second waits for the
first instead of both holding what the other needs (the refund row, and the key-share lock
its reversal rows put on the request)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, cast

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.kit.money import Money
from payrequest.ledger.models import Allocation, Refund
from payrequest.payment_requests import apply, refunds
from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.payment_requests.state import Status
from payrequest.providers.base import (
    Capabilities,
    OneProvider,
    PaymentProvider,
    PaymentSnapshot,
    ProviderState,
    UserFlow,
)
from tests.factories import make_customer, make_invoice

pytestmark = pytest.mark.postgres
Sessions = async_sessionmaker[AsyncSession]
ROUNDS = 5


@pytest.fixture
def pg_sessions(sessions: Sessions) -> Sessions:
    if sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("row locks between two sessions: PostgreSQL (SQLite has one writer)")
    return sessions


class _Provider:
    """Refunds succeed once both refunds have reached the provider (they finish together)."""

    name = "vipps"  # what the requests stored

    def __init__(self, reference: str, total: int) -> None:
        self.reference, self.total = reference, total
        self.arrived = asyncio.Barrier(2)
        self.refunded = 0

    async def refund(self, reference: str, amount: Money, *, idempotency_key: str) -> Any:
        await self.arrived.wait()
        self.refunded += amount.amount
        return PaymentSnapshot(
            reference,
            ProviderState.authorized,
            Money(self.total, amount.currency),
            authorized=self.total,
            captured=self.total,
            cancelled=0,
            refunded=self.refunded,
        )


_numbers = itertools.count(1)


async def _paid(sessions: Sessions) -> tuple[str, int]:
    """A request for three invoices, paid and allocated; committed. Each to its own number
    (a number takes 3 pushes in 10 minutes)."""
    phone = f"+47912{next(_numbers):05d}"
    async with sessions() as session, session.begin():
        customer = await make_customer(session, phone=phone)
        invoices = [await make_invoice(session, customer, amount=10_000) for _ in range(3)]
        request = await create_request(
            session,
            data=NewPaymentRequest(
                customer_id=customer.id,
                invoice_ids=[i.id for i in invoices],
                phone=phone,
                user_flow=UserFlow.push,
            ),
            lifetime=Lifetime(10, Capabilities()),
        )
        await apply.apply_outcome(
            session, reference=request.reference, target=Status.pending, source="system"
        )
        await apply.apply_snapshot(
            session,
            snapshot=PaymentSnapshot(
                request.reference,
                ProviderState.authorized,
                Money(30_000, "NOK"),
                authorized=30_000,
                captured=30_000,
                cancelled=0,
                refunded=0,
            ),
            source="system",
        )
        return request.reference, request.id


async def test_two_refunds_finishing_together_both_settle(pg_sessions: Sessions) -> None:
    for _ in range(ROUNDS):
        reference, request_id = await _paid(pg_sessions)
        async with pg_sessions() as session, session.begin():
            first = await refunds.request_refund(
                session, payment_request_id=request_id, amount=12_000
            )
            second = await refunds.request_refund(
                session, payment_request_id=request_id, amount=8_000
            )
            ids = (first.id, second.id)
        provider = cast(PaymentProvider, _Provider(reference, 30_000))
        await asyncio.wait_for(
            asyncio.gather(
                *(refunds.send_refund(pg_sessions, OneProvider(provider), refund_id=i) for i in ids)
            ),
            timeout=30,
        )
        async with pg_sessions() as session:
            statuses = (
                (await session.execute(select(Refund.status).where(Refund.id.in_(ids))))
                .scalars()
                .all()
            )
            reversed_total = sum(
                (
                    await session.execute(
                        select(Allocation.amount).where(Allocation.refund_id.in_(ids))
                    )
                ).scalars()
            )
            request = await session.get(PaymentRequest, request_id)
        assert sorted(statuses) == ["succeeded", "succeeded"]
        assert reversed_total == -20_000
        assert request is not None and request.refunded_amount == 20_000
