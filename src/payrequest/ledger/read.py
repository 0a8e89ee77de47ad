"""What the customer card shows about money that did not come through a payment request:
payments received by hand (with who recorded and who undid them), the customer's credits and
where credit was applied (with who applied it and who took it back). A read model: a few
queries, plain rows, nothing locked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.invoices.models import Invoice
from payrequest.ledger import applications, repository
from payrequest.ledger.models import Allocation, Credit, ManualPayment
from payrequest.users.models import User

PAYMENTS_SHOWN = 20
APPLICATIONS_SHOWN = 20


@dataclass(frozen=True, slots=True)
class Placed:
    """Part of a payment on one invoice."""

    invoice_id: int
    number: str
    amount: int


@dataclass(frozen=True, slots=True)
class Received:
    """One manual payment as the card lists it."""

    id: int
    currency: str
    amount: int
    received_on: date
    method: str
    reference: str | None
    note: str | None
    recorded_at: datetime
    recorded_by_id: int | None
    recorded_by: str | None  # the staff member's name
    undone_at: datetime | None
    undone_by: str | None
    undo_reason: str | None
    placed: tuple[Placed, ...]
    credit: int  # what became credit
    credit_used: int  # of which applied to invoices or refunded: blocks the undo

    @property
    def undone(self) -> bool:
        return self.undone_at is not None


@dataclass(frozen=True, slots=True)
class LiveCredit:
    """A credit the customer still has something of."""

    id: int
    currency: str
    amount: int
    available: int
    created_at: datetime
    reason: str  # a message id
    payment_request_id: int | None
    manual_payment_id: int | None


@dataclass(frozen=True, slots=True)
class AppliedCredit:
    """Credit placed on one invoice, as the card lists it."""

    id: int  # the allocation: what a take-back names
    invoice_id: int
    number: str
    currency: str
    amount: int
    applied_at: datetime
    applied_by_id: int | None
    applied_by: str | None  # the staff member's name
    automatic: bool
    taken_back_at: datetime | None
    taken_back_by: str | None
    take_back_reason: str | None

    @property
    def taken_back(self) -> bool:
        return self.taken_back_at is not None


@dataclass(frozen=True, slots=True)
class CustomerMoney:
    received: tuple[Received, ...]
    credits: tuple[LiveCredit, ...]
    more_received: bool  # older payments exist than those listed
    applied: tuple[AppliedCredit, ...] = ()  # newest first
    more_applied: bool = False

    def available(self) -> dict[str, int]:
        """Available credit per currency."""
        totals: dict[str, int] = {}
        for credit in self.credits:
            totals[credit.currency] = totals.get(credit.currency, 0) + credit.available
        return totals


async def customer_money(
    session: AsyncSession, customer_id: int, *, limit: int = PAYMENTS_SHOWN
) -> CustomerMoney:
    payments = list(
        (
            await session.execute(
                select(ManualPayment)
                .where(ManualPayment.customer_id == customer_id)
                .order_by(ManualPayment.received_on.desc(), ManualPayment.id.desc())
                .limit(limit + 1)
            )
        ).scalars()
    )
    more = len(payments) > limit
    payments = payments[:limit]
    placed = await _placed(session, [p.id for p in payments])
    leftovers = await _leftovers(session, [p.id for p in payments])
    people = await _names(
        session,
        {p.created_by_user_id for p in payments} | {p.undone_by_user_id for p in payments},
    )
    received = tuple(
        Received(
            id=p.id,
            currency=p.currency,
            amount=p.amount,
            received_on=p.received_on,
            method=p.method,
            reference=p.reference,
            note=p.note,
            recorded_at=p.created_at,
            recorded_by_id=p.created_by_user_id,
            recorded_by=people.get(p.created_by_user_id),
            undone_at=p.undone_at,
            undone_by=people.get(p.undone_by_user_id),
            undo_reason=p.undo_reason,
            placed=tuple(placed.get(p.id, ())),
            credit=leftovers.get(p.id, (0, 0))[0],
            credit_used=leftovers.get(p.id, (0, 0))[1],
        )
        for p in payments
    )
    applied, more_applied = await applied_credit(session, customer_id)
    return CustomerMoney(
        received, await live_credits(session, customer_id), more, applied, more_applied
    )


async def applied_credit(
    session: AsyncSession, customer_id: int, *, limit: int = APPLICATIONS_SHOWN
) -> tuple[tuple[AppliedCredit, ...], bool]:
    """The customer's credit applications, newest first, and whether older ones exist."""
    found, more = await applications.for_customer(session, customer_id, limit=limit)
    people = await _names(
        session,
        {a.applied_by for a in found} | {a.taken_back.by for a in found if a.taken_back},
    )
    return tuple(_applied(a, people) for a in found), more


def _applied(found: applications.Application, people: dict[int | None, str]) -> AppliedCredit:
    back = found.taken_back
    return AppliedCredit(
        id=found.id,
        invoice_id=found.invoice_id,
        number=found.number,
        currency=found.currency,
        amount=found.amount,
        applied_at=found.applied_at,
        applied_by_id=found.applied_by,
        applied_by=people.get(found.applied_by),
        automatic=found.automatic,
        taken_back_at=back.at if back else None,
        taken_back_by=people.get(back.by) if back else None,
        take_back_reason=back.reason if back else None,
    )


async def _placed(session: AsyncSession, payment_ids: Sequence[int]) -> dict[int, list[Placed]]:
    if not payment_ids:
        return {}
    stmt = (
        select(
            Allocation.manual_payment_id, Allocation.invoice_id, Invoice.number, Allocation.amount
        )
        .join(Invoice, Invoice.id == Allocation.invoice_id)
        .where(Allocation.manual_payment_id.in_(payment_ids), Allocation.reversal.is_(False))
        .order_by(Invoice.due_date, Invoice.id)
    )
    found: dict[int, list[Placed]] = {}
    for payment_id, invoice_id, number, amount in await session.execute(stmt):
        found.setdefault(int(payment_id or 0), []).append(Placed(invoice_id, number, int(amount)))
    return found


async def _leftovers(
    session: AsyncSession, payment_ids: Sequence[int]
) -> dict[int, tuple[int, int]]:
    """manual payment id -> (its credit, how much of it was applied or refunded)."""
    if not payment_ids:
        return {}
    remaining, used, refunded = repository.credit_remaining()
    stmt = (
        select(Credit.manual_payment_id, Credit.amount, remaining)
        .outerjoin(used, used.c.credit_id == Credit.id)
        .outerjoin(refunded, refunded.c.credit_id == Credit.id)
        .where(Credit.manual_payment_id.in_(payment_ids))
    )
    return {
        int(payment_id or 0): (int(amount), int(amount) - int(left))
        for payment_id, amount, left in await session.execute(stmt)
    }


async def _names(session: AsyncSession, user_ids: set[int | None]) -> dict[int | None, str]:
    ids = [i for i in user_ids if i is not None]
    if not ids:
        return {}
    stmt = select(User.id, User.name, User.email).where(User.id.in_(ids))
    return {i: name or email for i, name, email in await session.execute(stmt)}


async def live_credits(session: AsyncSession, customer_id: int) -> tuple[LiveCredit, ...]:
    """The customer's credits that still have something available, oldest first."""
    remaining, used, refunded = repository.credit_remaining()
    stmt = (
        select(Credit, remaining)
        .outerjoin(used, used.c.credit_id == Credit.id)
        .outerjoin(refunded, refunded.c.credit_id == Credit.id)
        .where(Credit.customer_id == customer_id, repository.live_credit(), remaining > 0)
        .order_by(Credit.id)
    )
    return tuple(
        LiveCredit(
            id=credit.id,
            currency=credit.currency,
            amount=credit.amount,
            available=int(left),
            created_at=credit.created_at,
            reason=credit.reason,
            payment_request_id=credit.payment_request_id,
            manual_payment_id=credit.manual_payment_id,
        )
        for credit, left in await session.execute(stmt)
    )


async def manual_payments_by_id(
    session: AsyncSession, payment_ids: Sequence[int]
) -> dict[int, ManualPayment]:
    """For the invoice's payment history."""
    if not payment_ids:
        return {}
    stmt = select(ManualPayment).where(ManualPayment.id.in_(payment_ids))
    return {p.id: p for p in (await session.execute(stmt)).scalars()}


async def invoice_of_allocation(session: AsyncSession, allocation_id: int) -> Invoice:
    """The invoice an allocation is on (where a refused take-back goes back to)."""
    stmt = (
        select(Invoice)
        .join(Allocation, Allocation.invoice_id == Invoice.id)
        .where(Allocation.id == allocation_id)
    )
    return (await session.execute(stmt)).scalar_one()
