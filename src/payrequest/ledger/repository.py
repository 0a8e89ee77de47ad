"""Ledger queries: what has been allocated, what credit is left. Credit is summed from rows;
what an invoice has been paid is its maintained figure, `Invoice.allocated`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import (
    ColumnElement,
    Row,
    Subquery,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from payrequest.customers.models import Customer
from payrequest.invoices.models import Invoice
from payrequest.invoices.status import InvoiceBalance
from payrequest.kit.search import ESCAPE, like_pattern
from payrequest.ledger.models import Allocation, Credit, Refund


async def allocated_by_invoice(session: AsyncSession, invoice_ids: Sequence[int]) -> dict[int, int]:
    if not invoice_ids:
        return {}
    rows = await session.execute(_ALLOCATED_BY_INVOICE, {"ids": list(invoice_ids)})
    return {invoice_id: int(total) for invoice_id, total in rows}


_ALLOCATED_BY_INVOICE = (
    select(Allocation.invoice_id, func.sum(Allocation.amount))
    .where(Allocation.invoice_id.in_(bindparam("ids", expanding=True)))
    .group_by(Allocation.invoice_id)
)


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


def allocated() -> ColumnElement[int]:
    """What has been allocated to an invoice: its maintained figure."""
    return Invoice.allocated.expression


def open_amount() -> ColumnElement[int]:
    """An invoice's open amount: its total minus its allocations (negative when overpaid)."""
    return Invoice.total - Invoice.allocated


def is_open() -> ColumnElement[bool]:
    """A live invoice with money still owed: the condition of the partial indexes
    `ix_invoices_customer_open` and `ix_invoices_organisation_open`."""
    return and_(Invoice.voided_at.is_(None), Invoice.total > Invoice.allocated)


def is_settled() -> ColumnElement[bool]:
    """Void, or paid in full: the condition of `ix_invoices_customer_settled`."""
    return or_(Invoice.voided_at.is_not(None), Invoice.total <= Invoice.allocated)


async def open_by_currency(session: AsyncSession, customer_id: int) -> dict[str, int]:
    """Sum of open amounts of the customer's non-void invoices, per currency of any of them
    (0 when all are paid). The sums read the open invoices' partial index; the currencies an
    index-only scan of the customer's non-void invoices' currencies (no table rows)."""
    mine = (Invoice.customer_id == customer_id, Invoice.voided_at.is_(None))
    # An index-only scan of ix_invoices_customer_currency (non-void invoices only).
    present = await session.scalars(select(Invoice.currency).where(*mine).distinct())
    opens = dict.fromkeys(present, 0)
    stmt = (
        select(Invoice.currency, func.sum(open_amount()))
        .where(Invoice.customer_id == customer_id, is_open())
        .group_by(Invoice.currency)
    )
    opens.update({currency: int(total) for currency, total in await session.execute(stmt)})
    return opens


async def credit_by_currency(session: AsyncSession, customer_id: int) -> dict[str, int]:
    """Credit still available per currency: credits minus what was applied or refunded."""
    return (await credits_by_customer(session, [customer_id])).get(customer_id, {})


def credit_remaining() -> tuple[ColumnElement[int], Subquery, Subquery]:
    """A credit's amount minus what was applied to invoices and what was refunded (or is being
    refunded) from it: `(expression, used, refunded)`, the two subqueries to outer-join on
    `Credit.id`. A voided credit (its manual payment was undone) still has this expression;
    every reader of available credit also filters `live_credit()`."""
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
    return remaining, used, refunded


def live_credit() -> ColumnElement[bool]:
    """A credit that counts: not voided."""
    return Credit.voided_at.is_(None)


async def credits_by_customer(
    session: AsyncSession, customer_ids: Sequence[int]
) -> dict[int, dict[str, int]]:
    remaining, used, refunded = credit_remaining()
    stmt = (
        select(Credit.customer_id, Credit.currency, func.sum(remaining))
        .outerjoin(used, used.c.credit_id == Credit.id)
        .outerjoin(refunded, refunded.c.credit_id == Credit.id)
        .where(Credit.customer_id.in_(customer_ids), live_credit())
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


async def allocations_for_manual_payment(
    session: AsyncSession, manual_payment_id: int
) -> list[Allocation]:
    """A manual payment's allocations and the reversals that took them back, oldest first."""
    stmt = (
        select(Allocation)
        .where(Allocation.manual_payment_id == manual_payment_id)
        .order_by(Allocation.id)
    )
    return list((await session.execute(stmt)).scalars())


async def credit_for_manual_payment(session: AsyncSession, manual_payment_id: int) -> Credit | None:
    stmt = select(Credit).where(Credit.manual_payment_id == manual_payment_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def request_has_money_placed(session: AsyncSession, payment_request_id: int) -> bool:
    """Whether a request's payment was already allocated or turned into credit (one query)."""
    result = await session.execute(_MONEY_PLACED, {"request": payment_request_id})
    return bool(result.scalar_one())


_MONEY_PLACED = select(  # built once: every payment runs it
    or_(
        select(Allocation.id).where(Allocation.payment_request_id == bindparam("request")).exists(),
        select(Credit.id).where(Credit.payment_request_id == bindparam("request")).exists(),
    )
)


async def credit_for_request(session: AsyncSession, payment_request_id: int) -> Credit | None:
    stmt = select(Credit).where(Credit.payment_request_id == payment_request_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def credit_available(session: AsyncSession, credit_id: int) -> int:
    """A credit's amount minus what was applied to invoices and what was refunded (or is
    being refunded) from it; 0 for a voided credit."""
    credit = await session.get(Credit, credit_id)
    if credit is None or credit.voided_at is not None:
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
    overdue = case((and_(open_amount() > 0, Invoice.due_date < today), 1), else_=0)
    stmt = (
        select(Invoice.customer_id, Invoice.currency, func.sum(open_amount()), func.sum(overdue))
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


# --- The invoice list: open amounts and status for a page of invoices in one query ---------

INVOICE_FILTERS = ("all", "open", "overdue", "paid", "void")


@dataclass(frozen=True, slots=True)
class InvoiceRow:
    invoice: Invoice
    customer_name: str
    balance: InvoiceBalance


def _invoice_where(*, query: str, customer_id: int | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if customer_id is not None:
        where.append(Invoice.customer_id == customer_id)
    if query.strip():
        # The customer side is its folded search text (name, number, email, phone), so "Øster"
        # finds "ØSTERGAARD" on SQLite too; invoice numbers are ASCII, where lower() folds.
        like = like_pattern(query)
        where.append(
            or_(
                func.lower(Invoice.number).like(like, escape=ESCAPE),
                Invoice.customer_id.in_(
                    select(Customer.id).where(Customer.search_text.like(like, escape=ESCAPE))
                ),
            )
        )
    return where


def _customer_name() -> ColumnElement[str]:
    """The invoice's customer's name, looked up by key for each row shown (a join would
    let the planner read every customer to hash them)."""
    return select(Customer.name).where(Customer.id == Invoice.customer_id).scalar_subquery()


def _status_conditions(today: date) -> dict[str, ColumnElement[bool]]:
    return {
        "open": is_open(),
        "overdue": and_(is_open(), Invoice.due_date < today),
        "paid": and_(Invoice.voided_at.is_(None), Invoice.total <= Invoice.allocated),
        "void": Invoice.voided_at.is_not(None),
    }


async def invoice_page(
    session: AsyncSession,
    *,
    status: str = "all",
    query: str = "",
    customer_id: int | None = None,
    today: date,
    limit: int,
    offset: int = 0,
) -> list[InvoiceRow]:
    """Invoices newest first with their customer's name and balance, in one query.

    `status`: open (open or partly paid), overdue (open past its due date), paid, void or all.
    `query` matches the invoice number or the customer's name.
    """
    stmt = (
        select(Invoice, _customer_name(), allocated())
        .where(*_invoice_where(query=query, customer_id=customer_id))
        .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
        .limit(limit)
        .offset(offset)
    )
    condition = _status_conditions(today).get(status)
    if condition is not None:
        stmt = stmt.where(condition)
    return [
        InvoiceRow(
            invoice=invoice,
            customer_name=name,
            balance=InvoiceBalance(
                total=invoice.total,
                allocated=int(allocated),
                voided=invoice.voided_at is not None,
                due_date=invoice.due_date,
            ),
        )
        for invoice, name, allocated in await session.execute(stmt)
    ]


async def invoice_rows_newest_first(
    session: AsyncSession,
    *,
    before_id: int | None,
    limit: int,
    status: str = "all",
    customer_id: int | None = None,
    today: date,
) -> list[InvoiceRow]:
    """A page of invoices with their lines and balance, newest first, those older than
    `before_id` when given (a cursor). `status` as in `invoice_page`."""
    stmt = (
        select(Invoice, _customer_name(), allocated())
        .options(selectinload(Invoice.lines))
        .order_by(Invoice.id.desc())
        .limit(limit)
    )
    if customer_id is not None:
        stmt = stmt.where(Invoice.customer_id == customer_id)
    if before_id is not None:
        stmt = stmt.where(Invoice.id < before_id)
    condition = _status_conditions(today).get(status)
    if condition is not None:
        stmt = stmt.where(condition)
    return [
        InvoiceRow(
            invoice=invoice,
            customer_name=name,
            balance=InvoiceBalance(
                total=invoice.total,
                allocated=int(paid_amount),
                voided=invoice.voided_at is not None,
                due_date=invoice.due_date,
            ),
        )
        for invoice, name, paid_amount in await session.execute(stmt)
    ]


async def invoice_counts(
    session: AsyncSession, *, query: str = "", customer_id: int | None = None, today: date
) -> dict[str, int]:
    """How many invoices each filter of `invoice_page` shows, in one query."""
    conditions = _status_conditions(today)
    columns = [func.count(Invoice.id)] + [
        func.coalesce(func.sum(case((conditions[name], 1), else_=0)), 0)
        for name in INVOICE_FILTERS[1:]
    ]
    stmt = (
        select(*columns)
        .select_from(Invoice)
        .where(*_invoice_where(query=query, customer_id=customer_id))
    )
    row = (await session.execute(stmt)).one()
    return {name: int(value) for name, value in zip(INVOICE_FILTERS, row, strict=True)}


async def allocations_for_invoice(session: AsyncSession, invoice_id: int) -> list[Allocation]:
    """Every allocation on an invoice, oldest first; refund reversals are negative rows."""
    stmt = (
        select(Allocation)
        .where(Allocation.invoice_id == invoice_id)
        .order_by(Allocation.created_at, Allocation.id)
    )
    return list((await session.execute(stmt)).scalars())


async def credits_by_id(session: AsyncSession, credit_ids: Sequence[int]) -> dict[int, Credit]:
    if not credit_ids:
        return {}
    stmt = select(Credit).where(Credit.id.in_(credit_ids))
    return {credit.id: credit for credit in (await session.execute(stmt)).scalars()}


@dataclass(frozen=True, slots=True)
class InvoiceWithBalance:
    """An invoice and what has been paid on it, read as plain columns (no ORM objects)."""

    id: int
    number: str
    due_date: date
    currency: str
    total: int
    balance: InvoiceBalance


async def invoices_with_balance(
    session: AsyncSession, customer_id: int
) -> list[InvoiceWithBalance]:
    """Every invoice of a customer with its balance, in one query, oldest due first."""
    stmt = (
        select(
            Invoice.id,
            Invoice.number,
            Invoice.due_date,
            Invoice.currency,
            Invoice.total,
            Invoice.voided_at.is_not(None),
            allocated(),
        )
        .where(Invoice.customer_id == customer_id)
        .order_by(Invoice.due_date, Invoice.id)
    )
    return _with_balance((await session.execute(stmt)).all())


@dataclass(frozen=True, slots=True)
class CardInvoices:
    """What the customer card lists: the first open invoices (oldest due first) and the
    latest settled ones (newest due first), with how many there are of each."""

    open: list[InvoiceWithBalance]
    open_count: int
    settled: list[InvoiceWithBalance]
    settled_count: int


_CardRow = Row[int, str, date, str, int, bool, int]


def _with_balance(rows: Sequence[_CardRow]) -> list[InvoiceWithBalance]:
    return [
        InvoiceWithBalance(
            id,
            number,
            due,
            currency,
            total,
            InvoiceBalance(
                total=total, allocated=int(allocated), voided=bool(voided), due_date=due
            ),
        )
        for id, number, due, currency, total, voided, allocated in rows
    ]


async def card_invoices(
    session: AsyncSession, customer_id: int, *, open_limit: int, settled_limit: int
) -> CardInvoices:
    """A customer's card invoices in four indexed queries (the open and settled partial
    indexes), whatever the length of their history."""
    columns = (
        Invoice.id,
        Invoice.number,
        Invoice.due_date,
        Invoice.currency,
        Invoice.total,
        Invoice.voided_at.is_not(None),
        allocated(),
    )
    mine = Invoice.customer_id == customer_id
    first_open = await session.execute(
        select(*columns)
        .where(mine, is_open())
        .order_by(Invoice.due_date, Invoice.id)
        .limit(open_limit)
    )
    latest_settled = await session.execute(
        select(*columns)
        .where(mine, is_settled())
        .order_by(Invoice.due_date.desc(), Invoice.id.desc())
        .limit(settled_limit)
    )
    open_count = await session.scalar(select(func.count()).where(mine, is_open()))
    settled_count = await session.scalar(select(func.count()).where(mine, is_settled()))
    return CardInvoices(
        _with_balance(first_open.all()),
        int(open_count or 0),
        _with_balance(latest_settled.all()),
        int(settled_count or 0),
    )
