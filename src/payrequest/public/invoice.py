"""The public invoice: its lines, and what is open of it (the ledger's balance)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.invoices.lines import QUANTITY_SCALE
from payrequest.invoices.models import Invoice, InvoiceLine
from payrequest.invoices.status import InvoiceBalance
from payrequest.ledger import repository as ledger
from payrequest.public.common import Amount, Currency, Timestamp
from payrequest.public.ids import public_id

InvoiceStatusName = Literal["open", "partially_paid", "paid", "void"]


class InvoiceLineObject(BaseModel):
    model_config = ConfigDict(frozen=True)

    description: str
    quantity: str  # a decimal number as text, exact: "1.5"
    unit_price: Amount  # excluding VAT
    vat_rate_bp: int  # basis points: 2500 = 25 %
    net_amount: Amount
    vat_amount: Amount
    total: Amount


class InvoiceObject(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    object: Literal["invoice"] = "invoice"
    external_id: str | None
    number: str
    reference: str | None  # the payment reference (KID)
    customer: str  # the customer's id
    currency: Currency
    issue_date: date
    due_date: date
    status: InvoiceStatusName
    total: Amount
    amount_paid: Amount  # applied to it so far (payments and credit, less refunds)
    open_amount: Amount  # what is left to pay; 0 once paid or void
    note: str | None
    lines: list[InvoiceLineObject]
    voided: Timestamp | None
    created: Timestamp
    updated: Timestamp


def quantity_text(quantity_milli: int) -> str:
    """1500 -> "1.5", 2000 -> "2"."""
    value = (Decimal(quantity_milli) / QUANTITY_SCALE).normalize()
    return format(value, "f")


def line_object(line: InvoiceLine) -> InvoiceLineObject:
    return InvoiceLineObject(
        description=line.description,
        quantity=quantity_text(line.quantity_milli),
        unit_price=line.unit_price,
        vat_rate_bp=line.vat_rate_bp,
        net_amount=line.net_amount,
        vat_amount=line.vat_amount,
        total=line.total,
    )


def invoice_object(invoice: Invoice, balance: InvoiceBalance) -> InvoiceObject:
    """`invoice` with its lines loaded; `balance` from the ledger (`invoice_objects`)."""
    return InvoiceObject(
        id=public_id("invoice", invoice.id),
        external_id=invoice.external_id,
        number=invoice.number,
        reference=invoice.reference,
        customer=public_id("customer", invoice.customer_id),
        currency=invoice.currency,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        status=balance.status.value,
        total=invoice.total,
        amount_paid=balance.allocated,
        open_amount=balance.open_amount,
        note=invoice.note,
        lines=[line_object(line) for line in invoice.lines],
        voided=invoice.voided_at,
        created=invoice.created_at,
        updated=invoice.updated_at,
    )


async def invoice_objects(
    session: AsyncSession, invoices: Sequence[Invoice]
) -> list[InvoiceObject]:
    """The public form of invoices (their lines loaded), balances read in one query."""
    balances = await ledger.invoice_balances(session, invoices)
    return [invoice_object(invoice, balances[invoice.id]) for invoice in invoices]
