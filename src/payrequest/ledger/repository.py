"""Ledger queries: what has been allocated, what credit is left. Always summed from rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.invoices.models import Invoice
from payrequest.invoices.status import InvoiceBalance
from payrequest.ledger.models import Allocation, Credit, Refund


async def allocated_by_invoice(session: AsyncSession, invoice_ids: Sequence[int]) -> dict[int, int]:
    if not invoice_ids:
        return {}
    stmt = (
        select(Allocation.invoice_id, func.sum(Allocation.amount))
        .where(Allocation.invoice_id.in_(invoice_ids))
        .group_by(Allocation.invoice_id)
    )
    return {invoice_id: int(total) for invoice_id, total in await session.execute(stmt)}


async def invoice_balances(
    session: AsyncSession, invoices: Sequence[Invoice]
) -> dict[int, InvoiceBalance]:
    allocated = await allocated_by_invoice(session, [i.id for i in invoices])
    return {
        i.id: InvoiceBalance(
            total=i.total,
            allocated=allocated.get(i.id, 0),
            voided=i.voided_at is not None,
            due_date=i.due_date,
        )
        for i in invoices
    }


async def open_by_currency(session: AsyncSession, customer_id: int) -> dict[str, int]:
    """Sum of open amounts of the customer's non-void invoices, per currency."""
    allocated = (
        select(Allocation.invoice_id, func.sum(Allocation.amount).label("paid"))
        .group_by(Allocation.invoice_id)
        .subquery()
    )
    open_amount = Invoice.total - func.coalesce(allocated.c.paid, 0)
    stmt = (
        select(Invoice.currency, func.sum(open_amount))
        .outerjoin(allocated, allocated.c.invoice_id == Invoice.id)
        .where(Invoice.customer_id == customer_id, Invoice.voided_at.is_(None))
        .group_by(Invoice.currency)
    )
    return {currency: int(total) for currency, total in await session.execute(stmt)}


async def credit_by_currency(session: AsyncSession, customer_id: int) -> dict[str, int]:
    """Credit still available per currency: credits minus what was applied or refunded."""
    return (await credits_by_customer(session, [customer_id])).get(customer_id, {})


async def credits_by_customer(
    session: AsyncSession, customer_ids: Sequence[int]
) -> dict[int, dict[str, int]]:
    used = (
        select(Allocation.credit_id, func.sum(Allocation.amount).label("used"))
        .where(Allocation.credit_id.is_not(None))
        .group_by(Allocation.credit_id)
        .subquery()
    )
    refunded = (
        select(Refund.credit_id, func.sum(Refund.credit_amount).label("refunded"))
        .where(Refund.credit_id.is_not(None), Refund.status != "failed")
        .group_by(Refund.credit_id)
        .subquery()
    )
    remaining = (
        Credit.amount - func.coalesce(used.c.used, 0) - func.coalesce(refunded.c.refunded, 0)
    )
    stmt = (
        select(Credit.customer_id, Credit.currency, func.sum(remaining))
        .outerjoin(used, used.c.credit_id == Credit.id)
        .outerjoin(refunded, refunded.c.credit_id == Credit.id)
        .where(Credit.customer_id.in_(customer_ids))
        .group_by(Credit.customer_id, Credit.currency)
    )
    result: dict[int, dict[str, int]] = {}
    for customer_id, currency, amount in await session.execute(stmt):
        if int(amount):
            result.setdefault(customer_id, {})[currency] = int(amount)
    return result


async def allocations_for_request(
    session: AsyncSession, payment_request_id: int
) -> list[Allocation]:
    stmt = (
        select(Allocation)
        .where(Allocation.payment_request_id == payment_request_id)
        .order_by(Allocation.id)
    )
    return list((await session.execute(stmt)).scalars())


async def credit_for_request(session: AsyncSession, payment_request_id: int) -> Credit | None:
    stmt = select(Credit).where(Credit.payment_request_id == payment_request_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def credit_available(session: AsyncSession, credit_id: int) -> int:
    """A credit's amount minus what was applied to invoices and what was refunded (or is
    being refunded) from it."""
    credit = await session.get(Credit, credit_id)
    if credit is None:
        return 0
    applied = (
        await session.execute(
            select(func.coalesce(func.sum(Allocation.amount), 0)).where(
                Allocation.credit_id == credit_id
            )
        )
    ).scalar_one()
    refunded = (
        await session.execute(
            select(func.coalesce(func.sum(Refund.credit_amount), 0)).where(
                Refund.credit_id == credit_id, Refund.status != "failed"
            )
        )
    ).scalar_one()
    return int(credit.amount - applied - refunded)


async def refunds_for_request(session: AsyncSession, payment_request_id: int) -> list[Refund]:
    stmt = select(Refund).where(Refund.payment_request_id == payment_request_id).order_by(Refund.id)
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True, slots=True)
class CustomerSummary:
    open: dict[str, int]  # currency -> open amount
    credit: dict[str, int]  # currency -> available credit
    overdue: int  # how many invoices are open past their due date

    def due(self) -> list[tuple[str, int]]:
        currencies = sorted(set(self.open) | set(self.credit))
        return [(c, self.open.get(c, 0) - self.credit.get(c, 0)) for c in currencies]


async def customer_summaries(
    session: AsyncSession, customer_ids: Sequence[int], *, today: date
) -> dict[int, CustomerSummary]:
    """Balance and overdue count for a page of customers, in two queries."""
    if not customer_ids:
        return {}
    paid = (
        select(Allocation.invoice_id, func.sum(Allocation.amount).label("paid"))
        .group_by(Allocation.invoice_id)
        .subquery()
    )
    open_amount = Invoice.total - func.coalesce(paid.c.paid, 0)
    overdue = case((and_(open_amount > 0, Invoice.due_date < today), 1), else_=0)
    stmt = (
        select(Invoice.customer_id, Invoice.currency, func.sum(open_amount), func.sum(overdue))
        .outerjoin(paid, paid.c.invoice_id == Invoice.id)
        .where(Invoice.customer_id.in_(customer_ids), Invoice.voided_at.is_(None))
        .group_by(Invoice.customer_id, Invoice.currency)
    )
    opens: dict[int, dict[str, int]] = {i: {} for i in customer_ids}
    late: dict[int, int] = dict.fromkeys(customer_ids, 0)
    for customer_id, currency, amount, overdue_count in await session.execute(stmt):
        opens[customer_id][currency] = int(amount)
        late[customer_id] += int(overdue_count or 0)
    credits = await credits_by_customer(session, customer_ids)
    return {i: CustomerSummary(opens[i], credits.get(i, {}), late[i]) for i in customer_ids}
