"""Credit applications as staff see them: customer credit placed on an invoice, who placed it,
and whether it was taken back (when, by whom, why). A read model over allocation rows only.

An application is a positive allocation naming a credit; `created_by_user_id` is who applied it
(None: automatically, or before who applied was kept). Its take-back is the negative reversal
row that names it (`reverses_allocation_id`), which keeps who took it back and why (`note`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from payrequest.invoices.models import Invoice
from payrequest.ledger.models import Allocation, Credit


@dataclass(frozen=True, slots=True)
class TakeBack:
    """An application taken back: its reversal row."""

    reversal_id: int
    at: datetime
    by: int | None  # users.id
    reason: str | None


@dataclass(frozen=True, slots=True)
class Application:
    id: int  # the allocation
    credit_id: int
    invoice_id: int
    number: str
    currency: str
    amount: int
    applied_at: datetime
    applied_by: int | None  # users.id; None: automatically, or not kept
    taken_back: TakeBack | None

    @property
    def automatic(self) -> bool:
        return self.applied_by is None


_reversal = aliased(Allocation, name="taken_back")


async def for_customer(
    session: AsyncSession, customer_id: int, *, limit: int
) -> tuple[list[Application], bool]:
    """The customer's credit applications, newest first, at most `limit`; and whether there
    are older ones."""
    stmt = (
        _applications()
        .join(Credit, Credit.id == Allocation.credit_id)
        .where(Credit.customer_id == customer_id)
        .limit(limit + 1)
    )
    found = [_application(*row) for row in await session.execute(stmt)]
    return found[:limit], len(found) > limit


async def for_invoice(
    session: AsyncSession, invoice: Invoice, allocations: Sequence[Allocation]
) -> dict[int, Application]:
    """The credit applications among an invoice's allocations, by allocation id."""
    if not any(a.credit_id is not None for a in allocations):
        return {}
    stmt = _applications().where(Allocation.invoice_id == invoice.id)
    return {a.id: a for a in (_application(*row) for row in await session.execute(stmt))}


def _applications() -> Select[Allocation, str, Allocation | None]:
    return (
        select(Allocation, Invoice.number, _reversal)
        .join(Invoice, Invoice.id == Allocation.invoice_id)
        .outerjoin(_reversal, _reversal.reverses_allocation_id == Allocation.id)
        .where(Allocation.credit_id.is_not(None), Allocation.reversal.is_(False))
        .order_by(Allocation.id.desc())
    )


def _application(applied: Allocation, number: str, reversal: Allocation | None) -> Application:
    assert applied.credit_id is not None  # the query's condition
    return Application(
        id=applied.id,
        credit_id=applied.credit_id,
        invoice_id=applied.invoice_id,
        number=number,
        currency=applied.currency,
        amount=applied.amount,
        applied_at=applied.created_at,
        applied_by=applied.created_by_user_id,
        taken_back=None
        if reversal is None
        else TakeBack(reversal.id, reversal.created_at, reversal.created_by_user_id, reversal.note),
    )
