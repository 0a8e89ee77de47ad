"""Creating and voiding invoices."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers import repository as customers
from payrequest.errors import Conflict, NotFound, ValidationFailed
from payrequest.invoices import repository
from payrequest.invoices.lines import line_amounts
from payrequest.invoices.models import Invoice, InvoiceLine
from payrequest.invoices.schemas import InvoiceInput
from payrequest.kit.clock import utcnow


async def create_invoice(session: AsyncSession, *, data: InvoiceInput) -> Invoice:
    """Validate everything first, then write: bad input changes nothing."""
    if data.due_date < data.issue_date:
        raise ValidationFailed("The due date cannot be before the issue date", field="due_date")
    if await customers.get(session, data.customer_id) is None:
        raise NotFound("No such customer")
    if await repository.get_by_number(session, data.number) is not None:
        raise Conflict(f"Invoice number {data.number} already exists", field="number")
    lines = []
    for position, line in enumerate(data.lines, start=1):
        amounts = line_amounts(line.quantity, line.unit_price, line.vat_rate_bp)
        lines.append(
            InvoiceLine(
                position=position,
                description=line.description,
                quantity_milli=amounts.quantity_milli,
                unit_price=line.unit_price,
                vat_rate_bp=line.vat_rate_bp,
                net_amount=amounts.net,
                vat_amount=amounts.vat,
            )
        )
    total = sum(line.net_amount + line.vat_amount for line in lines)
    if total <= 0:
        raise ValidationFailed("An invoice must be for more than zero", field="lines")
    invoice = Invoice(
        number=data.number,
        customer_id=data.customer_id,
        issue_date=data.issue_date,
        due_date=data.due_date,
        currency=data.currency,
        total=total,
        note=data.note,
        lines=lines,
    )
    session.add(invoice)
    await session.flush()
    return invoice


async def void_invoice(session: AsyncSession, *, invoice_id: int, allocated: int) -> Invoice:
    """Void an invoice nobody has paid anything on. `allocated` comes from the ledger."""
    invoice = await repository.get(session, invoice_id)
    if invoice is None:
        raise NotFound("No such invoice")
    if invoice.voided_at is not None:
        return invoice
    if allocated > 0:
        raise Conflict(f"Invoice {invoice.number} has payments on it; refund them before voiding")
    invoice.voided_at = utcnow()
    await session.flush()
    return invoice
