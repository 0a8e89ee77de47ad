"""Applying captured money to invoices, and the customer balance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.errors import CurrencyMismatch, NotFound, ValidationFailed
from payrequest.invoices import repository as invoices
from payrequest.invoices import service as invoice_service
from payrequest.invoices.models import Invoice
from payrequest.kit.money import Money
from payrequest.ledger import repository
from payrequest.ledger.allocation import LEFTOVER_REASON, OpenInvoice, plan_allocation
from payrequest.ledger.models import Allocation, Credit, Refund


@dataclass(frozen=True, slots=True)
class AllocationResult:
    allocations: tuple[Allocation, ...]
    credit: Credit | None
    already_applied: bool
    settled: tuple[Invoice, ...] = ()  # invoices this payment left fully paid


@dataclass(frozen=True, slots=True)
class Balance:
    """What the customer owes in one currency: open invoices minus available credit."""

    currency: str
    open: int
    credit: int

    @property
    def due(self) -> Money:
        return Money(self.open - self.credit, self.currency)


async def allocate_payment(
    session: AsyncSession,
    *,
    payment_request_id: int,
    customer_id: int,
    amount: Money,
    invoice_ids: Sequence[int],
) -> AllocationResult:
    """Split a captured payment over its invoices; the excess becomes customer credit.

    Idempotent: a request that already has allocations or a credit is left as it is. The
    caller holds the payment request's row lock; unique constraints back this up.
    """
    if await repository.request_has_money_placed(session, payment_request_id):
        existing = await repository.allocations_for_request(session, payment_request_id)
        credit = await repository.credit_for_request(session, payment_request_id)
        return AllocationResult(tuple(existing), credit, already_applied=True)
    if amount.amount <= 0:
        raise ValidationFailed("Captured amount must be positive", field="amount")
    rows = await invoices.many(session, invoice_ids, for_update=True)
    _check_invoices(rows, customer_id=customer_id, currency=amount.currency)
    balances = await repository.invoice_balances(session, rows)
    plan = plan_allocation(
        amount.amount,
        [OpenInvoice(i.id, i.due_date, balances[i.id].open_amount) for i in rows],
    )
    allocations = tuple(
        Allocation(
            invoice_id=invoice_id,
            currency=amount.currency,
            amount=part,
            payment_request_id=payment_request_id,
        )
        for invoice_id, part in plan.parts
    )
    session.add_all(allocations)
    new_credit = None
    if plan.leftover > 0:
        new_credit = Credit(
            customer_id=customer_id,
            currency=amount.currency,
            amount=plan.leftover,
            payment_request_id=payment_request_id,
            reason=LEFTOVER_REASON,
        )
        session.add(new_credit)
    await session.flush()
    parts = dict(plan.parts)
    settled = tuple(i for i in rows if 0 < balances[i.id].open_amount == parts.get(i.id, 0))
    return AllocationResult(allocations, new_credit, already_applied=False, settled=settled)


def _check_invoices(rows: Sequence[Invoice], *, customer_id: int, currency: str) -> None:
    for invoice in rows:
        if invoice.customer_id != customer_id:
            raise ValidationFailed(
                "Invoice %(number)s belongs to another customer", number=invoice.number
            )
        if invoice.currency != currency:
            raise CurrencyMismatch(
                "Invoice %(number)s is in %(invoice_currency)s, the payment in %(currency)s",
                number=invoice.number,
                invoice_currency=invoice.currency,
                currency=currency,
            )


async def balances(session: AsyncSession, customer_id: int) -> list[Balance]:
    """Recomputed from rows every time, never a running total that can drift."""
    open_amounts = await repository.open_by_currency(session, customer_id)
    credits = await repository.credit_by_currency(session, customer_id)
    currencies = sorted(set(open_amounts) | set(credits))
    return [Balance(c, open_amounts.get(c, 0), credits.get(c, 0)) for c in currencies]


async def void_invoice(
    session: AsyncSession, *, invoice_id: int, actor_id: int | None = None
) -> Invoice:
    """`actor_id`: who voids it (users.id), for the audit log."""
    if await invoices.get(session, invoice_id) is None:
        raise NotFound("No such invoice")
    allocated = (await repository.allocated_by_invoice(session, [invoice_id])).get(invoice_id, 0)
    return await invoice_service.void_invoice(
        session, invoice_id=invoice_id, allocated=allocated, actor_id=actor_id
    )


async def plan_refund(
    session: AsyncSession, *, payment_request_id: int, amount: int
) -> tuple[int | None, int]:
    """Where a refund of a paid request comes from: (credit id, part from credit).

    The request's own overpayment credit is refunded first; the rest reverses allocations.
    """
    credit = await repository.credit_for_request(session, payment_request_id)
    if credit is None:
        return None, 0
    available = await repository.credit_available(session, credit.id)
    return credit.id, min(max(available, 0), amount)


async def reverse_allocations(session: AsyncSession, *, refund: Refund) -> list[Allocation]:
    """Undo what a succeeded refund took back from invoices: negative rows, newest due first."""
    to_reverse = refund.amount - refund.credit_amount
    if to_reverse <= 0:
        return []
    allocations = await repository.allocations_for_request(session, refund.payment_request_id)
    net: dict[int, int] = {}
    for allocation in allocations:
        net[allocation.invoice_id] = net.get(allocation.invoice_id, 0) + allocation.amount
    rows = await invoices.many(session, list(net))
    reversals: list[Allocation] = []
    for invoice in sorted(rows, key=lambda i: (i.due_date, i.id), reverse=True):
        if to_reverse == 0:
            break
        part = min(net[invoice.id], to_reverse)
        if part <= 0:
            continue
        reversals.append(
            Allocation(
                invoice_id=invoice.id,
                currency=refund.currency,
                amount=-part,
                payment_request_id=refund.payment_request_id,
                refund_id=refund.id,
                reversal=True,
            )
        )
        to_reverse -= part
    if to_reverse:
        raise ValidationFailed("The refund is larger than what this payment paid")
    session.add_all(reversals)
    await session.flush()
    return reversals
