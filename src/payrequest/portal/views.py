"""What the portal pages show, always read for one customer: the requests waiting on their
invoices, their payment history with the invoices each payment is for, and one invoice with
its lines. Another customer's invoice reads exactly like one that does not exist (None)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from payrequest.invoices.models import Invoice
from payrequest.invoices.status import InvoiceBalance, InvoiceStatus
from payrequest.invoices.vat import VatRow, paid_by_rate
from payrequest.ledger import repository as ledger_repo
from payrequest.ledger import service as ledger
from payrequest.ledger.models import Allocation
from payrequest.ledger.repository import InvoiceWithBalance
from payrequest.ledger.service import Balance
from payrequest.payment_requests import repository as requests_repo
from payrequest.payment_requests.models import (
    PaymentRequest,
    PaymentRequestEvent,
    PaymentRequestInvoice,
)
from payrequest.payment_requests.state import Status

PAID = (Status.paid.value, Status.refunded.value)


@dataclass(frozen=True, slots=True)
class Waiting:
    """A request that holds an invoice: nothing else may ask for it until it ends."""

    reference: str
    status: str
    expires_at: datetime


async def waiting_by_invoice(
    session: AsyncSession, customer_id: int, invoice_ids: Sequence[int] | None = None
) -> dict[int, Waiting]:
    """The customer's waiting (sending, pending or approved) request per invoice it holds."""
    stmt = (
        select(
            PaymentRequestInvoice.invoice_id,
            PaymentRequest.reference,
            PaymentRequest.status,
            PaymentRequest.expires_at,
        )
        .join(PaymentRequest, PaymentRequest.id == PaymentRequestInvoice.payment_request_id)
        .where(PaymentRequest.customer_id == customer_id, PaymentRequestInvoice.active.is_(True))
    )
    if invoice_ids is not None:
        stmt = stmt.where(PaymentRequestInvoice.invoice_id.in_(list(invoice_ids)))
    rows = await session.execute(stmt)
    return {
        invoice_id: Waiting(reference, status, expires_at)
        for invoice_id, reference, status, expires_at in rows
    }


@dataclass(frozen=True, slots=True)
class HistoryRow:
    payment: PaymentRequest
    invoice_numbers: list[str]  # what it paid (paid, refunded) or is for (any other state)


async def history(session: AsyncSession, customer_id: int, *, limit: int = 30) -> list[HistoryRow]:
    """The customer's newest requests, each with the numbers of its invoices (three queries)."""
    payments = await requests_repo.for_customer(session, customer_id, limit=limit)
    ids = [p.id for p in payments]
    asked = await session.execute(
        select(PaymentRequestInvoice.payment_request_id, Invoice.number)
        .join(Invoice, Invoice.id == PaymentRequestInvoice.invoice_id)
        .where(PaymentRequestInvoice.payment_request_id.in_(ids))
        .order_by(Invoice.due_date, Invoice.id)
    )
    paid = await session.execute(
        select(Allocation.payment_request_id, Invoice.number)
        .join(Invoice, Invoice.id == Allocation.invoice_id)
        .where(Allocation.payment_request_id.in_(ids), Allocation.amount > 0)
        .order_by(Invoice.due_date, Invoice.id)
    )
    numbers: dict[tuple[bool, int | None], list[str]] = {}
    for is_paid, rows in ((False, asked), (True, paid)):
        for request_id, number in rows:
            found = numbers.setdefault((is_paid, request_id), [])
            if number not in found:
                found.append(number)
    return [HistoryRow(p, numbers.get((p.status in PAID, p.id), [])) for p in payments]


@dataclass(frozen=True, slots=True)
class HomeView:
    open_rows: list[InvoiceWithBalance]  # oldest due first
    paid_rows: list[InvoiceWithBalance]  # the newest 20
    waiting: dict[int, Waiting]  # invoice id -> the request waiting on it
    balances: list[Balance]
    payments: list[HistoryRow]


async def home_of(session: AsyncSession, customer_id: int) -> HomeView:
    """The portal's front page: what is open (and what waits on it), what was paid, lately."""
    rows = await ledger_repo.invoices_with_balance(session, customer_id)
    return HomeView(
        open_rows=[r for r in rows if r.balance.open_amount > 0],
        paid_rows=[r for r in rows if r.balance.status is InvoiceStatus.paid][-20:],
        waiting=await waiting_by_invoice(session, customer_id),
        balances=await ledger.balances(session, customer_id),
        payments=await history(session, customer_id),
    )


@dataclass(frozen=True, slots=True)
class InvoiceView:
    invoice: Invoice  # with its lines
    balance: InvoiceBalance
    vat: list[VatRow]  # the invoice's VAT per rate
    waiting: Waiting | None


async def invoice_of(
    session: AsyncSession, customer_id: int, invoice_id: int
) -> InvoiceView | None:
    """One of the customer's invoices with its lines, balance and waiting request."""
    stmt = (
        select(Invoice)
        .where(Invoice.id == invoice_id, Invoice.customer_id == customer_id)
        .options(selectinload(Invoice.lines))
    )
    invoice = (await session.execute(stmt)).scalar_one_or_none()
    if invoice is None:
        return None
    balance = (await ledger_repo.invoice_balances(session, [invoice]))[invoice.id]
    waiting = await waiting_by_invoice(session, customer_id, [invoice.id])
    return InvoiceView(
        invoice=invoice,
        balance=balance,
        vat=paid_by_rate(invoice, invoice.total),
        waiting=waiting.get(invoice.id),
    )


@dataclass(frozen=True, slots=True)
class PaymentView:
    payment: PaymentRequest
    invoices: list[Invoice]  # the invoices it asks for, oldest due first
    balances: dict[int, InvoiceBalance]  # what is still open on each, now
    # It failed on something about the business's account at the provider (not approved for
    # this kind of request, bank account not verified): the reason is for staff, not for the
    # customer, who is told the business has to sort it out.
    business_problem: bool = False
    # Why the payer's latest attempt failed, in plain words (an English msgid; a declined
    # card's reason), while the payment may still be tried again or after it ended.
    attempt_failure: str | None = None


async def request_of(
    session: AsyncSession, customer_id: int, reference: str
) -> PaymentRequest | None:
    """One of the customer's requests, with its invoice links."""
    stmt = (
        select(PaymentRequest)
        .where(PaymentRequest.reference == reference, PaymentRequest.customer_id == customer_id)
        .options(selectinload(PaymentRequest.invoice_links))
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def payment_of(session: AsyncSession, customer_id: int, reference: str) -> PaymentView | None:
    """One of the customer's requests with its invoices and what is still open on them."""
    payment = await request_of(session, customer_id, reference)
    if payment is None:
        return None
    ids = [link.invoice_id for link in payment.invoice_links]
    stmt = select(Invoice).where(Invoice.id.in_(ids)).order_by(Invoice.due_date, Invoice.id)
    invoices = list((await session.execute(stmt)).scalars())
    balances = await ledger_repo.invoice_balances(session, invoices)
    problem = payment.status == Status.failed and (
        await requests_repo.refusal(session, payment.id) is not None
    )
    return PaymentView(
        payment,
        invoices,
        balances,
        business_problem=problem,
        attempt_failure=await latest_failed_attempt(session, payment.id),
    )


async def latest_failed_attempt(session: AsyncSession, request_id: int) -> str | None:
    """The message of the request's newest failed attempt at the provider (a provider
    signal recorded with a message), None when none failed."""
    stmt = (
        select(PaymentRequestEvent.message)
        .where(
            PaymentRequestEvent.payment_request_id == request_id,
            PaymentRequestEvent.kind == "provider_signal",
            PaymentRequestEvent.message.is_not(None),
        )
        .order_by(PaymentRequestEvent.occurred_at.desc(), PaymentRequestEvent.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()
