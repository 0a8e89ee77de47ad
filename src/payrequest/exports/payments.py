"""The payments export's read model: every movement of money of a period, one line per
invoice it touched, oldest first.

It is a journal: a line is written once, on the day the money moved, and never changes, so an
exported period reads the same later. Where each fact lives:

- a payment through a provider: its allocations (one per invoice) and the overpayment credit
  of its payment request (no invoice), on the day it was captured;
- a payment received by hand: its allocations and its credit, on the day it was received
  (`manual_payments.received_on`, the bank's date);
- a refund, once it succeeded: its reversal allocations and the part taken from credit, as
  negative amounts on the day it finished;
- an undone manual payment: its reversal allocations and its voided credit, negative, on the
  day it was undone;
- customer credit applied to an invoice, or taken back: the credit's allocations (a move from
  the customer's credit to an invoice, no money in or out).

Each kind is one query, streamed (the database hands rows over as they are read); the streams
are merged by day. Nothing is held beyond one row of each.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers.models import Customer
from payrequest.exports.merge import merged
from payrequest.exports.period import Period, business_day
from payrequest.invoices.models import Invoice
from payrequest.ledger.models import Allocation, Credit, ManualPayment, Refund
from payrequest.payment_requests.models import PaymentRequest

# What a line is (the CSV's `type` column).
PAYMENT = "payment"  # money in through a provider
MANUAL_PAYMENT = "manual_payment"  # money in by hand (bank transfer, cash, ...)
REFUND = "refund"  # money sent back through the provider (negative)
MANUAL_PAYMENT_UNDONE = "manual_payment_undone"  # a manual payment taken back (negative)
CREDIT_APPLIED = "credit_applied"  # customer credit moved onto an invoice
CREDIT_TAKEN_BACK = "credit_taken_back"  # such a move undone (negative)
KINDS = (PAYMENT, MANUAL_PAYMENT, REFUND, MANUAL_PAYMENT_UNDONE, CREDIT_APPLIED, CREDIT_TAKEN_BACK)


@dataclass(frozen=True, slots=True)
class PaymentLine:
    """One movement of money on one invoice (or on the customer's credit: no invoice)."""

    day: date  # in the business's time zone; a manual payment's: the day it was received
    moment: datetime  # UTC: when it was recorded
    kind: str  # one of KINDS
    payment: str  # the payment request's reference, `manual-<id>` or `credit-<id>`
    customer_number: str
    customer_name: str
    invoice_number: str | None  # None: the customer's credit
    amount: int  # minor units; negative when money went back
    currency: str
    provider: str | None = None
    provider_reference: str | None = None
    method: str | None = None  # a manual payment's: bank_transfer, cash, card, other
    reference: str | None = None  # a manual payment's bank reference or KID
    order: tuple[Any, ...] = ()  # how it sorts within its day (its query's own order)


Query = Select[*tuple[Any, ...]]
Found = Row[*tuple[Any, ...]]


def _key(line: PaymentLine) -> tuple[Any, ...]:
    return (line.day, line.moment, *line.order)


async def payment_lines(session: AsyncSession, period: Period) -> AsyncIterator[PaymentLine]:
    """Every line of `period`, by day and then by the moment it was recorded."""
    streams = [
        _stream(session, _allocations(period), _allocation_line),
        _stream(session, _manual_allocations(period), _manual_allocation_line),
        _stream(session, _manual_credits(period), _manual_credit_line),
        _stream(session, _request_credits(period), _request_credit_line),
        _stream(session, _refunds_from_credit(period), _refund_credit_line),
        _stream(session, _voided_credits(period), _voided_credit_line),
    ]
    async for line in merged(streams, _key):
        yield line


async def _stream(
    session: AsyncSession, statement: Query, line: Callable[[Found], PaymentLine]
) -> AsyncIterator[PaymentLine]:
    result = await session.stream(statement)
    try:
        async for row in result:
            yield line(row)
    finally:
        await result.close()


def _within(column: Any, period: Period) -> Any:
    return and_(column >= period.starts, column < period.ends)


# --- Allocations recorded at a moment: payments, refunds, undos, credit moves -----------------


def _allocations(period: Period) -> Query:
    """Every allocation but a manual payment's own (dated by the day it was received)."""
    return (
        select(
            Allocation.id,
            Allocation.created_at,
            Allocation.amount,
            Allocation.currency,
            Allocation.reversal,
            Allocation.payment_request_id,
            Allocation.manual_payment_id,
            Allocation.credit_id,
            Allocation.refund_id,
            Invoice.number.label("invoice_number"),
            Customer.number.label("customer_number"),
            Customer.name.label("customer_name"),
            PaymentRequest.reference.label("request_reference"),
            PaymentRequest.provider,
            PaymentRequest.provider_reference,
            ManualPayment.method,
            ManualPayment.reference,
        )
        .join(Invoice, Invoice.id == Allocation.invoice_id)
        .join(Customer, Customer.id == Invoice.customer_id)
        .outerjoin(PaymentRequest, PaymentRequest.id == Allocation.payment_request_id)
        .outerjoin(ManualPayment, ManualPayment.id == Allocation.manual_payment_id)
        .where(
            _within(Allocation.created_at, period),
            or_(Allocation.manual_payment_id.is_(None), Allocation.reversal),
        )
        .order_by(Allocation.created_at, Allocation.id)
    )


def _allocation_kind(row: Found) -> tuple[str, str]:
    """(kind, payment) of an allocation recorded at a moment."""
    if row.manual_payment_id is not None:
        return MANUAL_PAYMENT_UNDONE, f"manual-{row.manual_payment_id}"
    if row.credit_id is not None:
        kind = CREDIT_TAKEN_BACK if row.reversal else CREDIT_APPLIED
        return kind, f"credit-{row.credit_id}"
    return (REFUND if row.refund_id is not None else PAYMENT), row.request_reference


def _allocation_line(row: Found) -> PaymentLine:
    kind, payment = _allocation_kind(row)
    by_provider = row.payment_request_id is not None
    return PaymentLine(
        day=business_day(row.created_at),
        moment=row.created_at,
        kind=kind,
        payment=payment,
        customer_number=row.customer_number,
        customer_name=row.customer_name,
        invoice_number=row.invoice_number,
        amount=int(row.amount),
        currency=row.currency,
        provider=row.provider if by_provider else None,
        provider_reference=row.provider_reference if by_provider else None,
        method=row.method,
        reference=row.reference,
        order=(0, row.id),
    )


# --- Manual payments, on the day they were received -------------------------------------------


def _manual_allocations(period: Period) -> Query:
    return (
        select(
            ManualPayment.id.label("payment_id"),
            ManualPayment.received_on,
            ManualPayment.created_at,
            ManualPayment.method,
            ManualPayment.reference,
            Allocation.id,
            Allocation.amount,
            Allocation.currency,
            Invoice.number.label("invoice_number"),
            Customer.number.label("customer_number"),
            Customer.name.label("customer_name"),
        )
        .join(Allocation, Allocation.manual_payment_id == ManualPayment.id)
        .join(Invoice, Invoice.id == Allocation.invoice_id)
        .join(Customer, Customer.id == ManualPayment.customer_id)
        .where(
            ManualPayment.received_on.between(period.first, period.last),
            Allocation.reversal.is_(False),
        )
        .order_by(ManualPayment.received_on, ManualPayment.created_at, Allocation.id)
    )


def _manual_allocation_line(row: Found) -> PaymentLine:
    return PaymentLine(
        day=row.received_on,
        moment=row.created_at,
        kind=MANUAL_PAYMENT,
        payment=f"manual-{row.payment_id}",
        customer_number=row.customer_number,
        customer_name=row.customer_name,
        invoice_number=row.invoice_number,
        amount=int(row.amount),
        currency=row.currency,
        method=row.method,
        reference=row.reference,
        order=(1, row.id),
    )


def _manual_credits(period: Period) -> Query:
    """The part of each manual payment that no invoice took (its credit, voided or not)."""
    return (
        select(
            ManualPayment.id.label("payment_id"),
            ManualPayment.received_on,
            ManualPayment.created_at,
            ManualPayment.method,
            ManualPayment.reference,
            Credit.id,
            Credit.amount,
            Credit.currency,
            Customer.number.label("customer_number"),
            Customer.name.label("customer_name"),
        )
        .join(Credit, Credit.manual_payment_id == ManualPayment.id)
        .join(Customer, Customer.id == ManualPayment.customer_id)
        .where(ManualPayment.received_on.between(period.first, period.last))
        .order_by(ManualPayment.received_on, ManualPayment.created_at, Credit.id)
    )


def _manual_credit_line(row: Found) -> PaymentLine:
    return PaymentLine(
        day=row.received_on,
        moment=row.created_at,
        kind=MANUAL_PAYMENT,
        payment=f"manual-{row.payment_id}",
        customer_number=row.customer_number,
        customer_name=row.customer_name,
        invoice_number=None,
        amount=int(row.amount),
        currency=row.currency,
        method=row.method,
        reference=row.reference,
        order=(2, row.id),
    )


def _voided_credits(period: Period) -> Query:
    """The credit of each manual payment undone in the period, taken back."""
    return (
        select(
            Credit.id,
            Credit.voided_at,
            Credit.amount,
            Credit.currency,
            Credit.manual_payment_id,
            ManualPayment.method,
            ManualPayment.reference,
            Customer.number.label("customer_number"),
            Customer.name.label("customer_name"),
        )
        .join(ManualPayment, ManualPayment.id == Credit.manual_payment_id)
        .join(Customer, Customer.id == Credit.customer_id)
        .where(_within(Credit.voided_at, period))
        .order_by(Credit.voided_at, Credit.id)
    )


def _voided_credit_line(row: Found) -> PaymentLine:
    return PaymentLine(
        day=business_day(row.voided_at),
        moment=row.voided_at,
        kind=MANUAL_PAYMENT_UNDONE,
        payment=f"manual-{row.manual_payment_id}",
        customer_number=row.customer_number,
        customer_name=row.customer_name,
        invoice_number=None,
        amount=-int(row.amount),
        currency=row.currency,
        method=row.method,
        reference=row.reference,
        order=(3, row.id),
    )


# --- A provider payment's overpayment, and refunds of credit -----------------------------------


def _request_credits(period: Period) -> Query:
    return (
        select(
            Credit.id,
            Credit.created_at,
            Credit.amount,
            Credit.currency,
            PaymentRequest.reference.label("request_reference"),
            PaymentRequest.provider,
            PaymentRequest.provider_reference,
            Customer.number.label("customer_number"),
            Customer.name.label("customer_name"),
        )
        .join(PaymentRequest, PaymentRequest.id == Credit.payment_request_id)
        .join(Customer, Customer.id == Credit.customer_id)
        .where(_within(Credit.created_at, period))
        .order_by(Credit.created_at, Credit.id)
    )


def _request_credit_line(row: Found) -> PaymentLine:
    return PaymentLine(
        day=business_day(row.created_at),
        moment=row.created_at,
        kind=PAYMENT,
        payment=row.request_reference,
        customer_number=row.customer_number,
        customer_name=row.customer_name,
        invoice_number=None,
        amount=int(row.amount),
        currency=row.currency,
        provider=row.provider,
        provider_reference=row.provider_reference,
        order=(4, row.id),
    )


def _refunds_from_credit(period: Period) -> Query:
    """The part of each succeeded refund taken from the customer's credit (the rest is in
    its reversal allocations)."""
    return (
        select(
            Refund.id,
            Refund.finished_at,
            Refund.credit_amount,
            Refund.currency,
            PaymentRequest.reference.label("request_reference"),
            PaymentRequest.provider,
            PaymentRequest.provider_reference,
            Customer.number.label("customer_number"),
            Customer.name.label("customer_name"),
        )
        .join(PaymentRequest, PaymentRequest.id == Refund.payment_request_id)
        .join(Customer, Customer.id == PaymentRequest.customer_id)
        .where(
            Refund.status == "succeeded",
            Refund.credit_amount > 0,
            _within(Refund.finished_at, period),
        )
        .order_by(Refund.finished_at, Refund.id)
    )


def _refund_credit_line(row: Found) -> PaymentLine:
    return PaymentLine(
        day=business_day(row.finished_at),
        moment=row.finished_at,
        kind=REFUND,
        payment=row.request_reference,
        customer_number=row.customer_number,
        customer_name=row.customer_name,
        invoice_number=None,
        amount=-int(row.credit_amount),
        currency=row.currency,
        provider=row.provider,
        provider_reference=row.provider_reference,
        order=(5, row.id),
    )
