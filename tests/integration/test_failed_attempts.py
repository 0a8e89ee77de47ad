"""A payer's failed attempt (a declined card) moves nothing, and is recorded on the request's
timeline in the provider's plain words with its reason code; an attempt without words gets
the generic sentence."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.kit.money import Money
from payrequest.payment_requests import apply
from payrequest.payment_requests.models import PaymentRequestEvent
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.payment_requests.state import Status
from payrequest.providers.base import Capabilities, EventName, ProviderEvent
from tests.factories import make_customer, make_invoice

Sessions = async_sessionmaker[AsyncSession]
LIFETIME = Lifetime(60, Capabilities(long_living=True, max_lifetime_minutes=24 * 60))
DECLINE = "The card was declined: not enough money on the account."


def _failed(reference: str, amount: int, n: int, **words: str) -> ProviderEvent:
    return ProviderEvent(
        reference=reference,
        name=EventName.authorized,
        psp_reference=f"ch_{n}",
        amount=Money(amount, "NOK"),
        occurred_at=datetime(2026, 12, 1, 12, n, tzinfo=UTC),
        success=False,
        event_id=f"evt_{n}",
        **words,
    )


async def test_a_declined_card_is_written_down_in_plain_words(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoice = await make_invoice(session, customer)
        request = await create_request(
            session,
            data=NewPaymentRequest(customer_id=customer.id, invoice_ids=[invoice.id]),
            lifetime=LIFETIME,
        )
        await apply.apply_outcome(
            session, reference=request.reference, target=Status.pending, source="system"
        )
        reference, amount, request_id = request.reference, request.amount, request.id
    async with sessions() as session, session.begin():
        first = await apply.apply_event(
            session,
            event=_failed(reference, amount, 1, reason="insufficient_funds", message=DECLINE),
            source="webhook",
        )
        second = await apply.apply_event(
            session, event=_failed(reference, amount, 2), source="webhook"
        )
        assert first.steps == second.steps == ()
        assert first.request is not None and first.request.status is Status.pending
    async with sessions() as session:
        rows = (
            await session.scalars(
                select(PaymentRequestEvent)
                .where(
                    PaymentRequestEvent.payment_request_id == request_id,
                    PaymentRequestEvent.provider_ref.in_(["ch_1", "ch_2"]),
                )
                .order_by(PaymentRequestEvent.provider_ref)
            )
        ).all()
    assert [(row.message, row.details.get("reason")) for row in rows] == [
        (DECLINE, "insufficient_funds"),
        ("The provider reports this operation failed", None),
    ]
