"""Money received outside the provider (a bank transfer, cash, ...): staff record it against
the customer's open invoices, and may undo it.

Recording allocates exactly as a captured payment does: oldest due first, each invoice up to
what is open on it; what is left becomes customer credit (`credits.manual_payment_id`).
Undoing never deletes or changes an allocation: each one gets a negative reversal row of the
same manual payment that names it (`reverses_allocation_id`; that column, and the unique
(manual_payment_id, invoice_id, reversal), make a second one impossible), its credit is voided,
and the payment row keeps who undid it, when and why. The manual payment row is locked
(SELECT ... FOR UPDATE) first, so two undos at once end in one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.audit import service as audit
from payrequest.customers import repository as customers
from payrequest.errors import Conflict, NotFound, ValidationFailed
from payrequest.events import names
from payrequest.events.announcements import Announcement, announce
from payrequest.i18n import TIMEZONE
from payrequest.invoices import repository as invoices
from payrequest.invoices.models import Invoice
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.ledger import credit as credits
from payrequest.ledger import repository
from payrequest.ledger.allocation import LEFTOVER_REASON, plan_allocation
from payrequest.ledger.models import MANUAL_METHODS, Allocation, Credit, ManualPayment
from payrequest.ledger.partial import partly_paid
from payrequest.ledger.targets import InRequests, lock_targets

REFERENCE_MAX = 100
NOTE_MAX = 1000
REASON_MAX = 200


@dataclass(frozen=True, slots=True)
class NewManualPayment:
    customer_id: int
    amount: Money
    received_on: date
    method: str
    reference: str | None = None  # the bank's reference, KID, receipt number
    note: str | None = None
    invoice_ids: tuple[int, ...] | None = None  # None: open invoices, oldest due first
    recorded_by: int | None = None  # users.id


@dataclass(frozen=True, slots=True)
class Recorded:
    payment: ManualPayment
    allocations: tuple[Allocation, ...]
    credit: Credit | None  # what no invoice took
    settled: tuple[Invoice, ...]  # invoices it left fully paid
    skipped: tuple[Invoice, ...]  # open, but a payment request is collecting them
    applied: credits.Applied | None = None  # the credit, applied automatically


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: a staff account and its role (users.models.ROLES)."""

    user_id: int
    role: str


def may_undo(actor: Actor, recorded_by: int | None) -> bool:
    """An owner may undo any manual payment; staff only one they recorded themselves (to fix
    their own mistake); read-only accounts never."""
    if actor.role == "owner":
        return True
    return actor.role == "staff" and recorded_by == actor.user_id


@dataclass(frozen=True, slots=True)
class Undone:
    payment: ManualPayment
    reversals: tuple[Allocation, ...]
    voided: Credit | None
    already: bool  # it had been undone before: nothing changed


def business_today() -> date:
    return utcnow().astimezone(TIMEZONE).date()


async def record(
    session: AsyncSession,
    *,
    data: NewManualPayment,
    in_requests: InRequests,
    auto_apply: bool = False,
) -> Recorded:
    """Record a payment and place its money; bad input raises and writes nothing.

    `auto_apply`: apply what is left over to the customer's other open invoices at once."""
    reference, note = _check(data)
    if await customers.get(session, data.customer_id) is None:
        raise NotFound("No such customer")
    currency = data.amount.currency
    targets = await lock_targets(
        session,
        customer_id=data.customer_id,
        currency=currency,
        invoice_ids=data.invoice_ids,
        in_requests=in_requests,
    )
    payment = ManualPayment(
        customer_id=data.customer_id,
        currency=currency,
        amount=data.amount.amount,
        received_on=data.received_on,
        method=data.method,
        reference=reference,
        note=note,
        created_by_user_id=data.recorded_by,
    )
    session.add(payment)
    await session.flush()
    await audit.record(
        session,
        action="manual_payment.record",
        user_id=data.recorded_by,
        subject_type="customer",
        subject_id=data.customer_id,
        details={
            "manual_payment_id": payment.id,
            "amount": payment.amount,
            "currency": currency,
            "method": data.method,
        },
    )
    plan = plan_allocation(data.amount.amount, targets.open)
    allocations = tuple(
        Allocation(invoice_id=i, currency=currency, amount=part, manual_payment_id=payment.id)
        for i, part in plan.parts
    )
    session.add_all(allocations)
    leftover = None
    if plan.leftover:
        leftover = Credit(
            customer_id=data.customer_id,
            currency=currency,
            amount=plan.leftover,
            manual_payment_id=payment.id,
            reason=LEFTOVER_REASON,
        )
        session.add(leftover)
    await session.flush()
    parts = dict(plan.parts)
    settled = tuple(
        targets.invoices[o.invoice_id]
        for o in targets.open
        if parts.get(o.invoice_id) == o.open_amount
    )
    await announce(
        session, _recorded(payment, allocations, leftover, settled), customer_id=payment.customer_id
    )
    applied = None
    if leftover is not None and auto_apply:
        applied = await credits.apply_automatically(
            session, customer_id=data.customer_id, currency=currency, in_requests=in_requests
        )
    return Recorded(payment, allocations, leftover, settled, targets.skipped, applied)


def _check(data: NewManualPayment) -> tuple[str | None, str | None]:
    """The payment's rules; returns the reference and note, trimmed (None when empty)."""
    if data.amount.amount <= 0:
        raise ValidationFailed("The amount must be more than zero", field="amount")
    if data.method not in MANUAL_METHODS:
        raise ValidationFailed("Choose how the money was paid", field="method")
    if data.received_on > business_today():
        raise ValidationFailed(
            "The date received cannot be in the future (%(day)s)",
            field="received_on",
            day=data.received_on,
        )
    reference = (data.reference or "").strip() or None
    if reference is not None and len(reference) > REFERENCE_MAX:
        raise ValidationFailed(
            "The reference can be at most %(most)s characters",
            field="reference",
            most=REFERENCE_MAX,
        )
    note = (data.note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise ValidationFailed(
            "The note can be at most %(most)s characters", field="note", most=NOTE_MAX
        )
    return reference, note


def _recorded(
    payment: ManualPayment,
    allocations: tuple[Allocation, ...],
    leftover: Credit | None,
    settled: tuple[Invoice, ...],
) -> list[Announcement]:
    events = [
        Announcement(
            names.MANUAL_PAYMENT_RECORDED,
            "manual_payment",
            payment.id,
            {
                "amount": payment.amount,
                "currency": payment.currency,
                "method": payment.method,
                "received_on": payment.received_on.isoformat(),
                "reference": payment.reference,
                "invoices": {str(a.invoice_id): a.amount for a in allocations},
                "credit": leftover.amount if leftover else 0,
            },
        ),
        *(
            Announcement(
                names.INVOICE_PAID,
                "invoice",
                invoice.id,
                {"number": invoice.number, "manual_payment": payment.id},
            )
            for invoice in settled
        ),
        *partly_paid(allocations, settled, manual_payment=payment.id),
    ]
    if leftover is not None:
        events.append(
            Announcement(
                names.CREDIT_CREATED,
                "credit",
                leftover.id,
                {
                    "amount": leftover.amount,
                    "currency": leftover.currency,
                    "manual_payment": payment.id,
                },
            )
        )
    return events


async def undo(session: AsyncSession, *, payment_id: int, actor: Actor, reason: str) -> Undone:
    """Take a manual payment back. Idempotent: an undone payment stays as it is (`already`).

    Refused while the credit it left has been applied to invoices, in part or whole: those
    applications have to be taken back first (ledger.take_back)."""
    payment = await _lock(session, payment_id)
    if payment.undone_at is not None:
        return Undone(payment, (), None, already=True)
    if not may_undo(actor, payment.created_by_user_id):
        raise Conflict(
            "Only an owner, or the person who recorded it, may undo this payment",
            code="not_allowed",
        )
    why = reason.strip()
    if not why or len(why) > REASON_MAX:
        raise ValidationFailed(
            "Say why the payment is undone (at most %(most)s characters)",
            field="reason",
            most=REASON_MAX,
        )
    leftover = await _lock_credit(session, payment.id)
    if leftover is not None:
        available = await repository.credit_available(session, leftover.id)
        if available < leftover.amount:
            raise Conflict(
                "%(used)s of the credit this payment left has been applied to invoices. Take "
                "those credit applications back first (customer card, Credit applied to "
                "invoices), then undo the payment.",
                code="credit_used",
                used=Money(leftover.amount - available, leftover.currency),
            )
    given = await _allocations(session, payment.id)
    await invoices.many(session, sorted({a.invoice_id for a in given}), for_update=True)
    reversals = tuple(
        Allocation(
            invoice_id=a.invoice_id,
            currency=a.currency,
            amount=-a.amount,
            manual_payment_id=payment.id,
            reversal=True,
            reverses_allocation_id=a.id,
        )
        for a in given
    )
    session.add_all(reversals)
    now = utcnow()
    if leftover is not None:
        leftover.voided_at = now
    payment.undone_at = now
    payment.undone_by_user_id = actor.user_id
    payment.undo_reason = why
    await session.flush()
    await announce(
        session,
        [
            Announcement(
                names.MANUAL_PAYMENT_UNDONE,
                "manual_payment",
                payment.id,
                {
                    "amount": payment.amount,
                    "currency": payment.currency,
                    "reason": why,
                    "invoices": {str(r.invoice_id): r.amount for r in reversals},
                    "credit_voided": leftover.amount if leftover else 0,
                },
            )
        ],
        customer_id=payment.customer_id,
    )
    return Undone(payment, reversals, leftover, already=False)


async def _lock(session: AsyncSession, payment_id: int) -> ManualPayment:
    stmt = (
        select(ManualPayment)
        .where(ManualPayment.id == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    payment = (await session.execute(stmt)).scalar_one_or_none()
    if payment is None:
        raise NotFound("No such payment")
    return payment


async def _lock_credit(session: AsyncSession, payment_id: int) -> Credit | None:
    stmt = (
        select(Credit)
        .where(Credit.manual_payment_id == payment_id, Credit.voided_at.is_(None))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def _allocations(session: AsyncSession, payment_id: int) -> list[Allocation]:
    stmt = (
        select(Allocation)
        .where(Allocation.manual_payment_id == payment_id, Allocation.reversal.is_(False))
        .order_by(Allocation.id)
    )
    return list((await session.execute(stmt)).scalars())
