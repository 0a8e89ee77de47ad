"""Taking back one application of customer credit to an invoice (it went to the wrong one), with
a reason, by staff with the rights they need to undo a manual payment.

Nothing is updated or deleted: a negative `reversal` allocation of the same credit and invoice
opens the invoice again by the application's amount and makes that much of the credit
available again. That row names the application it takes back (`reverses_allocation_id`) and
keeps who took it back (`created_by_user_id`) and why (`note`). The column is unique: the
database itself keeps an application from being taken back twice, and a second take-back
finds the first one's row and changes nothing.

The credit row is locked first (SELECT ... FOR UPDATE), as applying credit and undoing a manual
payment lock it, then the invoice row (the order applying credit uses). So of two take-backs of
the same application at once the second waits, then finds the first one's reversal. Should one
get past the lock all the same, the unique column refuses its row inside a savepoint and it
answers as the second. As a last guard the credit's net allocation to the invoice must still
cover the amount: a reversal never takes back more than that credit gave that invoice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.audit import service as audit
from payrequest.errors import Conflict, NotFound, ValidationFailed
from payrequest.events import names
from payrequest.events.announcements import Announcement, announce
from payrequest.invoices import repository as invoices
from payrequest.invoices.models import Invoice
from payrequest.kit.money import Money
from payrequest.ledger.manual import REASON_MAX, Actor, may_undo
from payrequest.ledger.models import Allocation, Credit


class CreditTakenBack(TypedDict):
    """The `credit.taken_back` payload: amounts in minor units, beside their currency."""

    amount: int  # what went back to the credit (> 0)
    currency: str
    credit: int  # credits.id
    invoice: int  # invoices.id, open again by `amount`
    number: str  # the invoice's number
    allocation: int  # the application taken back
    reversal: int  # the negative allocation row that takes it back
    reason: str
    by: int | None  # users.id


@dataclass(frozen=True, slots=True)
class TakenBack:
    application: Allocation
    invoice: Invoice
    reversal: Allocation  # the row that takes it back; an earlier one when `already`
    already: bool = False  # it had been taken back before: nothing changed

    @property
    def amount(self) -> Money:
        return Money(self.application.amount, self.application.currency)


def may_take_back(actor: Actor, applied_by: int | None) -> bool:
    """As for undoing a manual payment: an owner may take back any application, staff the ones
    they applied themselves, read-only accounts none. One applied automatically (or before
    who applied was kept) has no person: owners only."""
    return may_undo(actor, applied_by)


async def take_back(
    session: AsyncSession, *, allocation_id: int, actor: Actor, reason: str
) -> TakenBack:
    """Take back the credit application `allocation_id`. Idempotent: one taken back before
    stays as it is (`already`, with the earlier reversal)."""
    application = await session.get(Allocation, allocation_id)
    if application is None or application.credit_id is None or application.reversal:
        raise NotFound("No such credit application")
    credit = await _lock_credit(session, application.credit_id)
    earlier = await _reversal_of(session, application.id)
    if earlier is not None:
        return await _already(session, application, earlier)
    if not may_take_back(actor, application.created_by_user_id):
        raise Conflict(
            "Only an owner, or the person who applied it, may take this credit back",
            code="not_allowed",
        )
    why = reason.strip()
    if not why or len(why) > REASON_MAX:
        raise ValidationFailed(
            "Say why the credit is taken back (at most %(most)s characters)",
            field="reason",
            most=REASON_MAX,
        )
    [invoice] = await invoices.many(session, [application.invoice_id], for_update=True)
    if await _net_applied(session, credit.id, invoice.id) < application.amount:
        raise Conflict(
            "This credit is no longer on invoice %(number)s",
            code="not_applied",
            number=invoice.number,
        )
    reversal = Allocation(
        invoice_id=invoice.id,
        currency=application.currency,
        amount=-application.amount,
        credit_id=credit.id,
        reversal=True,
        reverses_allocation_id=application.id,
        created_by_user_id=actor.user_id,
        note=why,
    )
    try:
        async with session.begin_nested():
            session.add(reversal)
            await session.flush()
    except IntegrityError:
        earlier = await _reversal_of(session, application.id)
        if earlier is None:
            raise
        return await _already(session, application, earlier)
    await _announce(session, credit, invoice, application, reversal)
    await audit.record(
        session,
        action="credit.take_back",
        user_id=actor.user_id,
        subject_type="invoice",
        subject_id=invoice.id,
        details={
            "number": invoice.number,
            "amount": application.amount,
            "currency": application.currency,
            "allocation_id": application.id,
            "reason": why,
        },
    )
    return TakenBack(application, invoice, reversal)


async def _announce(
    session: AsyncSession,
    credit: Credit,
    invoice: Invoice,
    application: Allocation,
    reversal: Allocation,
) -> None:
    payload: CreditTakenBack = {
        "amount": application.amount,
        "currency": application.currency,
        "credit": credit.id,
        "invoice": invoice.id,
        "number": invoice.number,
        "allocation": application.id,
        "reversal": reversal.id,
        "reason": reversal.note or "",
        "by": reversal.created_by_user_id,
    }
    await announce(
        session,
        [Announcement(names.CREDIT_TAKEN_BACK, "credit", credit.id, dict(payload))],
        customer_id=credit.customer_id,
    )


async def _already(
    session: AsyncSession, application: Allocation, earlier: Allocation
) -> TakenBack:
    invoice = await invoices.get(session, application.invoice_id)
    assert invoice is not None  # the allocation's foreign key
    return TakenBack(application, invoice, earlier, already=True)


async def _reversal_of(session: AsyncSession, allocation_id: int) -> Allocation | None:
    stmt = select(Allocation).where(Allocation.reverses_allocation_id == allocation_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def _lock_credit(session: AsyncSession, credit_id: int) -> Credit:
    stmt = (
        select(Credit)
        .where(Credit.id == credit_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one()


async def _net_applied(session: AsyncSession, credit_id: int, invoice_id: int) -> int:
    """What the credit has given the invoice: its applications minus their reversals."""
    stmt = select(func.coalesce(func.sum(Allocation.amount), 0)).where(
        Allocation.credit_id == credit_id, Allocation.invoice_id == invoice_id
    )
    return int((await session.execute(stmt)).scalar_one())
