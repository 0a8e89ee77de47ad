"""Which invoices money received by hand, or credit, may go to: the customer's open invoices in
one currency, locked, with what is open on each, minus those a payment request is collecting.

The invoice rows are locked (SELECT ... FOR UPDATE) before anything is read about them, as
creating a payment request does: whichever of the two comes second waits, then sees what the
first wrote, so money is never placed on an invoice a request is collecting at that moment.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.errors import Conflict, CurrencyMismatch, NotFound, ValidationFailed
from payrequest.invoices import repository as invoices
from payrequest.invoices.models import Invoice
from payrequest.ledger import repository
from payrequest.ledger.allocation import OpenInvoice
from payrequest.ledger.models import Allocation

InRequests = Callable[[AsyncSession, Sequence[int]], Awaitable[Collection[int]]]
"""Which of these invoices are in a payment request waiting for the customer. The payment
requests package answers (it sits above the ledger): `payment_requests.repository.
invoices_in_active_requests`. Asked after the invoices are locked."""


@dataclass(frozen=True, slots=True)
class Targets:
    """The invoices money may go to, oldest due first, each with its open amount > 0."""

    open: tuple[OpenInvoice, ...]
    invoices: dict[int, Invoice]  # every locked invoice by id, the skipped ones too
    skipped: tuple[Invoice, ...] = ()  # open, but in a payment request waiting for the customer

    @property
    def open_total(self) -> int:
        return sum(i.open_amount for i in self.open)


async def lock_targets(
    session: AsyncSession,
    *,
    customer_id: int,
    currency: str,
    invoice_ids: Sequence[int] | None,
    in_requests: InRequests,
) -> Targets:
    """The chosen invoices (all must be the customer's, open, in `currency` and in no waiting
    request: else an error and nothing changes), or with `invoice_ids` None every open invoice
    of the customer in `currency` that no request is collecting."""
    chosen = invoice_ids is not None
    ids = list(dict.fromkeys(invoice_ids)) if invoice_ids is not None else None
    if ids is None:
        ids = await _open_invoice_ids(session, customer_id=customer_id, currency=currency)
    elif not ids:
        raise ValidationFailed("Choose at least one invoice", field="invoice_ids")
    rows = await invoices.many(session, ids, for_update=True)
    if chosen:
        _check_chosen(rows, ids, customer_id=customer_id, currency=currency)
    balances = await repository.invoice_balances(session, rows)
    busy = set(await in_requests(session, [i.id for i in rows])) if rows else set()
    if chosen:
        _check_open(rows, balances={i: b.open_amount for i, b in balances.items()}, busy=busy)
    usable = [i for i in rows if balances[i.id].open_amount > 0]
    return Targets(
        open=tuple(
            sorted(
                (
                    OpenInvoice(i.id, i.due_date, balances[i.id].open_amount)
                    for i in usable
                    if i.id not in busy
                ),
                key=lambda o: (o.due_date, o.invoice_id),
            )
        ),
        invoices={i.id: i for i in rows},
        skipped=tuple(i for i in usable if i.id in busy),
    )


async def _open_invoice_ids(session: AsyncSession, *, customer_id: int, currency: str) -> list[int]:
    stmt = (
        select(Invoice.id)
        .outerjoin(Allocation, Allocation.invoice_id == Invoice.id)
        .where(
            Invoice.customer_id == customer_id,
            Invoice.currency == currency,
            Invoice.voided_at.is_(None),
        )
        .group_by(Invoice.id)
        .having(repository.open_amount() > 0)
    )
    return list((await session.execute(stmt)).scalars())


def _check_chosen(
    rows: Sequence[Invoice], ids: Sequence[int], *, customer_id: int, currency: str
) -> None:
    if len(rows) != len(ids):
        raise NotFound("One of the invoices does not exist")
    for invoice in rows:
        if invoice.customer_id != customer_id:
            raise ValidationFailed(
                "Invoice %(number)s belongs to another customer", number=invoice.number
            )
        if invoice.currency != currency:
            raise CurrencyMismatch(
                "Invoice %(number)s is in %(invoice_currency)s, the payment in %(currency)s",
                field="invoice_ids",
                number=invoice.number,
                invoice_currency=invoice.currency,
                currency=currency,
            )


def _check_open(rows: Sequence[Invoice], *, balances: dict[int, int], busy: set[int]) -> None:
    closed = [i.number for i in rows if balances[i.id] <= 0]
    if closed:
        raise Conflict(
            "Invoice %(numbers)s is not open",
            code="invoice_not_open",
            field="invoice_ids",
            numbers=closed,
        )
    waiting = [i.number for i in rows if i.id in busy]
    if waiting:
        raise Conflict(
            "Invoice %(numbers)s already has a payment request waiting for the customer",
            code="invoice_busy",
            field="invoice_ids",
            numbers=waiting,
        )
