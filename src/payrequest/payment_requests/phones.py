"""Phone numbers payers share with a payment, and what becomes of them.

A request that asked for sharing (`share_phone`) learns the payer's number when the provider
reports it (`PaymentSnapshot.payer_phone`, applied by `apply.apply_snapshot`). The number is
kept on the request (`payer_phone`, once) and followed up on the customer, never silently
replacing a number staff entered:

- a customer without a number who agreed in the portal to keep it (`save_phone`): it becomes
  their number;
- otherwise, a number that differs from the customer's is suggested to staff on the card
  (`customers.suggested_phone`), unless staff dismissed this same number before;
- staff then use the suggestion (`use_learned_phone`) or dismiss it (`dismiss_learned_phone`).

A dismissal is remembered on the timeline of the payment the number came from: a note with
`details = {"phone": "dismissed"}`; the number is that payment's `payer_phone`. Every step
writes a timeline note and announces a `customer.phone_*` event for the live card.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers import repository as customers
from payrequest.customers import service as customer_service
from payrequest.customers.models import Customer
from payrequest.errors import N_
from payrequest.events import names, outbox
from payrequest.jobs import queue
from payrequest.kit.clock import utcnow
from payrequest.payment_requests import repository
from payrequest.payment_requests.models import PaymentRequest, PaymentRequestEvent
from payrequest.providers.base import PaymentSnapshot, ProviderState

# The payer approved and shared their number, but the provider's answer came without it (its
# lookup failed): read the payment again a little later, a few times, so it is not lost.
LEARN_AGAIN_JOB = "payment_requests.learn_phone"
LEARN_AGAIN_AFTER = timedelta(minutes=1)
LEARN_AGAIN_ATTEMPTS = 8


class PhoneOutcome(StrEnum):
    saved = "saved"  # the customer's number now (they agreed in the portal)
    suggested = "suggested"  # offered to staff on the card
    known = "known"  # already the customer's number
    dismissed_before = "dismissed_before"  # staff said no to this number before
    used = "used"  # staff took the suggestion
    dismissed = "dismissed"  # staff said no


NOTES = {
    PhoneOutcome.saved: N_(
        "The payer shared their number; it was saved as the customer's mobile number, as "
        "they agreed in the portal"
    ),
    PhoneOutcome.suggested: N_(
        "The payer shared their number; it is offered to staff on the customer card"
    ),
    PhoneOutcome.dismissed_before: N_(
        "The payer shared a number staff dismissed before; it is not offered again"
    ),
    PhoneOutcome.used: N_("Staff took the number the payer shared as the customer's number"),
    PhoneOutcome.dismissed: N_("Staff dismissed the number the payer shared"),
}


@dataclass(frozen=True, slots=True)
class PhoneNews:
    """The payload of `customer.phone_learned` and `customer.phone_decided`."""

    reference: str  # the payment the number came from
    phone: str  # E.164
    outcome: PhoneOutcome

    def payload(self) -> dict[str, str]:
        return {key: str(value) for key, value in asdict(self).items()}


def still_to_learn(request: PaymentRequest, snapshot: PaymentSnapshot) -> bool:
    """An approved payment that asked for the payer's number, which we do not have yet."""
    return (
        request.share_phone
        and request.payer_phone is None
        and snapshot.payer_phone is None
        and snapshot.state is ProviderState.authorized
    )


async def learn_later(session: AsyncSession, request: PaymentRequest) -> None:
    """Queue one more read of the payment (once per request: the dedupe key)."""
    await queue.enqueue(
        session,
        kind=LEARN_AGAIN_JOB,
        payload={"reference": request.reference},
        run_at=utcnow() + LEARN_AGAIN_AFTER,
        dedupe_key=f"learn-phone:{request.reference}",
        max_attempts=LEARN_AGAIN_ATTEMPTS,
        organisation_id=request.organisation_id,
    )


async def learn(session: AsyncSession, request: PaymentRequest, phone: str) -> PhoneOutcome | None:
    """The payer of a locked `request` shared `phone` (E.164). None: learned before."""
    if request.payer_phone is not None:
        return None
    request.payer_phone = phone
    customer = await customers.lock(session, request.customer_id)
    assert customer is not None  # a foreign key
    outcome = await _follow_up(session, customer, request, phone)
    if outcome is not PhoneOutcome.known:
        _note(session, request.id, outcome)
    if outcome in (PhoneOutcome.saved, PhoneOutcome.suggested):
        await _announce(session, names.CUSTOMER_PHONE_LEARNED, customer.id, request, outcome)
    await session.flush()
    return outcome


async def _follow_up(
    session: AsyncSession, customer: Customer, request: PaymentRequest, phone: str
) -> PhoneOutcome:
    if customer.phone == phone:
        return PhoneOutcome.known
    if customer.phone is None and request.save_phone:
        customer_service.adopt_phone(customer, phone)
        return PhoneOutcome.saved
    if await dismissed_before(session, customer_id=customer.id, phone=phone):
        return PhoneOutcome.dismissed_before
    customer_service.suggest_phone(customer, phone, request_id=request.id)
    return PhoneOutcome.suggested


async def dismissed_before(session: AsyncSession, *, customer_id: int, phone: str) -> bool:
    """Whether staff dismissed `phone` when a payment of this customer suggested it."""
    stmt = (
        select(PaymentRequestEvent.id)
        .join(PaymentRequest, PaymentRequest.id == PaymentRequestEvent.payment_request_id)
        .where(
            PaymentRequest.customer_id == customer_id,
            PaymentRequest.payer_phone == phone,
            PaymentRequestEvent.kind == "note",
            PaymentRequestEvent.details["phone"].as_string() == PhoneOutcome.dismissed.value,
        )
        .limit(1)
    )
    return (await session.execute(stmt)).first() is not None


async def use_learned_phone(
    session: AsyncSession,
    *,
    customer_id: int,
    shown_phone: str | None,
    shown_suggestion: str,
    user_id: int | None,
) -> Customer:
    """Staff take the suggested number (only if the card still says what they saw)."""
    customer, request_id = await customer_service.use_suggested_phone(
        session,
        customer_id=customer_id,
        shown_phone=shown_phone,
        shown_suggestion=shown_suggestion,
        actor_id=user_id,
    )
    await _decided(session, customer, request_id, PhoneOutcome.used, user_id)
    return customer


async def dismiss_learned_phone(
    session: AsyncSession, *, customer_id: int, shown_suggestion: str, user_id: int | None
) -> Customer:
    """Staff do not want the suggested number; the same number is not suggested again."""
    customer, request_id = await customer_service.dismiss_suggested_phone(
        session, customer_id=customer_id, shown_suggestion=shown_suggestion, actor_id=user_id
    )
    await _decided(session, customer, request_id, PhoneOutcome.dismissed, user_id)
    return customer


async def _decided(
    session: AsyncSession,
    customer: Customer,
    request_id: int | None,
    outcome: PhoneOutcome,
    user_id: int | None,
) -> None:
    request = await repository.get(session, request_id) if request_id is not None else None
    if request is None:  # only if the payment is gone: nothing to note it on
        await session.flush()
        return
    _note(session, request.id, outcome, source="user", user_id=user_id)
    await _announce(session, names.CUSTOMER_PHONE_DECIDED, customer.id, request, outcome)
    await session.flush()


def _note(
    session: AsyncSession,
    request_id: int,
    outcome: PhoneOutcome,
    *,
    source: str = "system",
    user_id: int | None = None,
) -> None:
    details: dict[str, object] = {"phone": outcome.value}
    if user_id is not None:
        details["user_id"] = user_id
    session.add(
        PaymentRequestEvent(
            payment_request_id=request_id,
            kind="note",
            source=source,
            occurred_at=utcnow(),
            message=NOTES[outcome],
            details=details,
        )
    )


async def _announce(
    session: AsyncSession,
    name: str,
    customer_id: int,
    request: PaymentRequest,
    outcome: PhoneOutcome,
) -> None:
    assert request.payer_phone is not None
    news = PhoneNews(request.reference, request.payer_phone, outcome)
    await outbox.record(
        session,
        name=name,
        aggregate_type="customer",
        aggregate_id=customer_id,
        customer_id=customer_id,
        payload=news.payload(),
    )


@dataclass(frozen=True, slots=True)
class Suggestion:
    """What the customer card offers: a number learned from a payment."""

    phone: str  # E.164
    request_id: int
    reference: str
    paid_at: datetime  # when the payment was made (or sent, if it never finished)


async def suggestion(session: AsyncSession, customer: Customer) -> Suggestion | None:
    """The customer's pending suggestion and the payment it came from, if any."""
    if customer.suggested_phone is None or customer.suggested_phone_request_id is None:
        return None
    request = await repository.get(session, customer.suggested_phone_request_id)
    if request is None:
        return None
    return Suggestion(
        phone=customer.suggested_phone,
        request_id=request.id,
        reference=request.reference,
        paid_at=request.finished_at or request.created_at,
    )
