"""Credit applications: customer credit placed on an invoice, who placed it, and whether it was
taken back (and by whom, when, why).

The money is in the allocation rows: an application is a positive allocation naming a credit;
taking it back adds a negative `reversal` row of the same credit and invoice. The rows do not
say which application a reversal takes back, nor who acted: the outbox events written in the
same transactions do. `credit.applied` lists the allocation ids it created and who applied
them (`by`, None when automatic), `credit.taken_back` names the application it took back and
its reversal row (payload `CreditTakenBack`). Both are always written with the rows they
describe, so reading them back is as reliable as reading the rows; the ledger's sums never
depend on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import Row, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.events import names
from payrequest.events.models import OutboxEvent
from payrequest.invoices.models import Invoice
from payrequest.ledger.credit import AUTOMATIC
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
class TakeBack:
    """An application taken back."""

    reversal_id: int
    at: datetime
    by: int | None  # users.id
    reason: str


@dataclass(frozen=True, slots=True)
class Record:
    """What the events say about one application."""

    applied_by: int | None = None  # users.id; None: automatically, or not recorded
    automatic: bool = False
    taken_back: TakeBack | None = None


@dataclass(frozen=True, slots=True)
class Application:
    id: int  # the allocation
    credit_id: int
    invoice_id: int
    number: str
    currency: str
    amount: int
    applied_at: datetime
    record: Record


async def records(session: AsyncSession, customer_id: int) -> dict[int, Record]:
    """Application (allocation) id -> what the customer's credit events say about it."""
    stmt = (
        select(OutboxEvent.name, OutboxEvent.payload, OutboxEvent.created_at)
        .where(
            OutboxEvent.customer_id == customer_id,
            OutboxEvent.name.in_((names.CREDIT_APPLIED, names.CREDIT_TAKEN_BACK)),
        )
        .order_by(OutboxEvent.id)
    )
    applied: dict[int, tuple[int | None, bool]] = {}
    taken: dict[int, TakeBack] = {}
    for name, payload, at in await session.execute(stmt):
        if name == names.CREDIT_APPLIED:
            by, automatic = _applier(payload)
            for allocation_id in payload.get("allocations") or ():
                applied[int(allocation_id)] = (by, automatic)
        else:
            allocation_id = int(payload["allocation"])
            taken.setdefault(
                allocation_id,
                TakeBack(int(payload["reversal"]), at, _user(payload.get("by")), payload["reason"]),
            )
    return {
        allocation_id: Record(*applied.get(allocation_id, (None, False)), taken.get(allocation_id))
        for allocation_id in applied.keys() | taken.keys()
    }


def _applier(payload: dict[str, Any]) -> tuple[int | None, bool]:
    return _user(payload.get("by")), payload.get("source") == AUTOMATIC


def _user(value: Any) -> int | None:
    return None if value is None else int(value)


async def record_of(session: AsyncSession, *, customer_id: int, allocation_id: int) -> Record:
    return (await records(session, customer_id)).get(allocation_id, Record())


async def for_customer(
    session: AsyncSession, customer_id: int, *, limit: int
) -> tuple[list[Application], bool]:
    """The customer's credit applications, newest first, at most `limit`; and whether there
    are older ones."""
    stmt = _applications().where(Credit.customer_id == customer_id).limit(limit + 1)
    rows = (await session.execute(stmt)).all()
    found = await records(session, customer_id) if rows else {}
    return [_application(row, found) for row in rows[:limit]], len(rows) > limit


async def for_invoice(
    session: AsyncSession, invoice: Invoice, allocations: Sequence[Allocation]
) -> dict[int, Application]:
    """The credit applications among an invoice's allocations, by allocation id, and the same
    applications by the id of the reversal that took each back."""
    if not any(a.credit_id is not None for a in allocations):
        return {}
    stmt = _applications().where(Allocation.invoice_id == invoice.id)
    found = await records(session, invoice.customer_id)
    result: dict[int, Application] = {}
    for row in await session.execute(stmt):
        application = _application(row, found)
        result[application.id] = application
        if application.record.taken_back is not None:
            result[application.record.taken_back.reversal_id] = application
    return result


def _applications() -> Select[int, int, int, str, str, int, datetime]:
    return (
        select(
            Allocation.id,
            Credit.id,
            Allocation.invoice_id,
            Invoice.number,
            Allocation.currency,
            Allocation.amount,
            Allocation.created_at,
        )
        .join(Credit, Credit.id == Allocation.credit_id)
        .join(Invoice, Invoice.id == Allocation.invoice_id)
        .where(Allocation.reversal.is_(False))
        .order_by(Allocation.id.desc())
    )


def _application(
    row: Row[int, int, int, str, str, int, datetime], found: dict[int, Record]
) -> Application:
    allocation_id, credit_id, invoice_id, number, currency, amount, at = row
    return Application(
        allocation_id,
        credit_id,
        invoice_id,
        number,
        currency,
        int(amount),
        at,
        found.get(allocation_id, Record()),
    )
