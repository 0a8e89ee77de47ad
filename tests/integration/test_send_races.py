"""What `send` does when the world moved while the create was held up, on both databases:

- the request was cancelled here while its create was on the way: the payment the provider then
  created is withdrawn there (one job, its own idempotency key), and the timeline says so;
- a long-living request held up until its expiry came too close is not sent with an expiry the
  provider would refuse: it fails with a reason staff can act on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.jobs.models import Job
from payrequest.kit.clock import utcnow
from payrequest.payment_requests import apply, withdraw, workflows
from payrequest.payment_requests.models import PaymentRequest, PaymentRequestEvent
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.payment_requests.state import Status
from payrequest.providers.base import (
    Capabilities,
    CreatedPayment,
    CreatePayment,
    OneProvider,
    PaymentProvider,
    UserFlow,
)
from tests.factories import make_customer, make_invoice

Sessions = async_sessionmaker[AsyncSession]
LONG_LIVING = Capabilities(long_living=True, max_lifetime_minutes=24 * 60)


class _Provider:
    """Records creates and cancels; every create succeeds, after `during_create` has run."""

    name = "vipps"  # what the requests stored

    capabilities = LONG_LIVING

    def __init__(self, during_create: Callable[[], Awaitable[None]] | None = None) -> None:
        self.during_create = during_create
        self.created: list[CreatePayment] = []
        self.cancelled: list[tuple[str, str]] = []

    async def create_payment(self, request: CreatePayment) -> CreatedPayment:
        self.created.append(request)
        if self.during_create is not None:
            await self.during_create()
        return CreatedPayment(request.reference, None)

    async def cancel(self, reference: str, *, idempotency_key: str) -> Any:
        self.cancelled.append((reference, idempotency_key))
        return None


async def _sending(sessions: Sessions, *, lifetime_minutes: int | None = None) -> str:
    async with sessions() as session, session.begin():
        customer = await make_customer(session, phone="+4791234567")
        invoice = await make_invoice(session, customer, amount=25_000)
        request = await create_request(
            session,
            data=NewPaymentRequest(
                customer_id=customer.id,
                invoice_ids=[invoice.id],
                phone="+4791234567",
                user_flow=UserFlow.push,
                lifetime_minutes=lifetime_minutes,
            ),
            lifetime=Lifetime(60, LONG_LIVING),
        )
        return request.reference


async def _request(sessions: Sessions, reference: str) -> PaymentRequest:
    async with sessions() as session:
        found = (
            await session.execute(
                select(PaymentRequest).where(PaymentRequest.reference == reference)
            )
        ).scalar_one()
        return found


async def test_a_payment_created_after_the_request_was_cancelled_is_withdrawn(
    sessions: Sessions,
) -> None:
    reference = await _sending(sessions)

    async def staff_cancel() -> None:
        """While the create is on its way: the cancel found nothing at the provider yet."""
        async with sessions() as session, session.begin():
            await apply.apply_outcome(
                session, reference=reference, target=Status.cancelled, source="user"
            )

    fake = _Provider(during_create=staff_cancel)
    provider = cast(PaymentProvider, fake)
    await workflows.send(sessions, OneProvider(provider), reference=reference)
    await workflows.send(
        sessions, OneProvider(provider), reference=reference
    )  # a retry sends nothing more
    assert len(fake.created) == 1
    assert (await _request(sessions, reference)).status is Status.cancelled
    async with sessions() as session:
        jobs = (
            (await session.execute(select(Job).where(Job.kind == withdraw.WITHDRAW_JOB)))
            .scalars()
            .all()
        )
        notes = (
            (
                await session.execute(
                    select(PaymentRequestEvent.message).where(PaymentRequestEvent.kind == "note")
                )
            )
            .scalars()
            .all()
        )
    assert [job.payload for job in jobs] == [{"reference": reference}]
    assert notes == [withdraw.NOTE]
    await withdraw.withdraw(provider, reference=reference, key=reference)  # what the job does
    assert fake.cancelled == [(reference, f"withdraw-{reference}")]


async def test_a_request_that_stays_wanted_queues_no_withdrawal(sessions: Sessions) -> None:
    reference = await _sending(sessions)
    fake = _Provider()
    await workflows.send(sessions, OneProvider(cast(PaymentProvider, fake)), reference=reference)
    assert (await _request(sessions, reference)).status is Status.pending
    async with sessions() as session:
        jobs = (
            (await session.execute(select(Job).where(Job.kind == withdraw.WITHDRAW_JOB)))
            .scalars()
            .all()
        )
    assert jobs == []


async def test_a_long_living_request_held_up_too_long_fails_instead_of_being_refused(
    sessions: Sessions,
) -> None:
    reference = await _sending(sessions, lifetime_minutes=60)
    async with sessions() as session, session.begin():
        stored = (
            await session.execute(
                select(PaymentRequest).where(PaymentRequest.reference == reference)
            )
        ).scalar_one()
        # Held up (an outage, a rate limit) until 12 minutes are left: under 10 + the margin.
        stored.created_at = utcnow() - timedelta(minutes=48)
        stored.expires_at = utcnow() + timedelta(minutes=12)
    fake = _Provider()
    await workflows.send(sessions, OneProvider(cast(PaymentProvider, fake)), reference=reference)
    request = await _request(sessions, reference)
    assert fake.created == []
    assert request.status is Status.failed
    assert request.failure_message == workflows.TOO_LATE


async def test_a_long_living_request_sent_in_time_keeps_its_expiry(sessions: Sessions) -> None:
    reference = await _sending(sessions, lifetime_minutes=60)
    fake = _Provider()
    await workflows.send(sessions, OneProvider(cast(PaymentProvider, fake)), reference=reference)
    assert [c.expires_at is not None for c in fake.created] == [True]
