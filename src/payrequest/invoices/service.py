"""Creating, editing and voiding invoices; each is recorded in the audit log with who did it
(`actor_id`, users.id; None: the system or the command line)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.audit import service as audit
from payrequest.customers import repository as customers
from payrequest.errors import Conflict, NotFound, ValidationFailed
from payrequest.events import names, outbox
from payrequest.invoices import repository
from payrequest.invoices.lines import line_amounts
from payrequest.invoices.models import Invoice, InvoiceLine
from payrequest.invoices.schemas import InvoiceInput
from payrequest.kit.clock import utcnow


async def create_invoice(
    session: AsyncSession, *, data: InvoiceInput, actor_id: int | None = None
) -> Invoice:
    """Validate everything first, then write: bad input changes nothing."""
    if data.due_date < data.issue_date:
        raise ValidationFailed("The due date cannot be before the issue date", field="due_date")
    if await customers.get(session, data.customer_id) is None:
        raise NotFound("No such customer")
    if await repository.get_by_number(session, data.number) is not None:
        raise _number_taken(data.number)
    if data.external_id and await repository.external_id_taken(session, data.external_id):
        raise _external_id_taken(data.external_id)
    lines = _build_lines(data)
    total = _total(lines)
    invoice = Invoice(
        number=data.number,
        customer_id=data.customer_id,
        issue_date=data.issue_date,
        due_date=data.due_date,
        currency=data.currency,
        total=total,
        note=data.note,
        lines=lines,
        external_id=data.external_id,
        reference=data.reference,
    )
    session.add(invoice)
    await _flush_number(session, data.number)
    await _announce(session, invoice, names.INVOICE_CREATED)
    await audit.record_edit(
        session,
        "invoice.create",
        invoice.id,
        actor_id,
        {
            "number": invoice.number,
            "customer_id": invoice.customer_id,
            "total": invoice.total,
            "currency": invoice.currency,
        },
    )
    return invoice


async def void_invoice(
    session: AsyncSession, *, invoice_id: int, allocated: int, actor_id: int | None = None
) -> Invoice:
    """Void an invoice nobody has paid anything on. `allocated` comes from the ledger. One void
    before stays as it is (and is not recorded again)."""
    invoice = await repository.get(session, invoice_id)
    if invoice is None:
        raise NotFound("No such invoice")
    if invoice.voided_at is not None:
        return invoice
    if allocated > 0:
        raise Conflict(
            "Invoice %(number)s has payments on it; refund them before voiding",
            code="invoice_has_payments",
            number=invoice.number,
        )
    invoice.voided_at = utcnow()
    await session.flush()
    await _announce(session, invoice, names.INVOICE_VOIDED)
    details = {"number": invoice.number, "total": invoice.total, "currency": invoice.currency}
    await audit.record_edit(session, "invoice.void", invoice.id, actor_id, details)
    return invoice


def _number_taken(number: str) -> Conflict:
    return Conflict("Invoice number %(number)s already exists", field="number", number=number)


def _external_id_taken(external_id: str) -> Conflict:
    return Conflict(
        "Another invoice has the external id %(external_id)s",
        field="external_id",
        code="external_id_taken",
        external_id=external_id,
    )


async def _flush_number(session: AsyncSession, number: str) -> None:
    """Write the invoice. The number was checked free, but someone may have saved the same
    number a moment ago: the database's unique number refuses it, and that reads as the same
    Conflict."""
    try:
        await session.flush()
    except IntegrityError:
        raise _number_taken(number) from None


def _build_lines(data: InvoiceInput) -> list[InvoiceLine]:
    """The lines with their amounts; raises before anything is written."""
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
    return lines


def _total(lines: list[InvoiceLine]) -> int:
    total = sum(line.net_amount + line.vat_amount for line in lines)
    if total <= 0:
        raise ValidationFailed("An invoice must be for more than zero", field="lines")
    return total


async def update_invoice(
    session: AsyncSession,
    *,
    invoice_id: int,
    data: InvoiceInput,
    allocated: int,
    in_active_request: bool,
    in_any_request: bool = False,
    actor_id: int | None = None,
) -> Invoice:
    """Replace number, dates, currency, note and lines of an invoice nobody has paid on (and
    its external id and payment reference, when `data` gives them: `model_fields_set`).

    `allocated` (money ever applied to it) comes from the ledger; `in_active_request` and
    `in_any_request` from the payment requests. The customer stays the same. Everything is
    checked before the first write: bad input changes nothing.
    """
    invoice = await repository.get(session, invoice_id, with_lines=True)
    if invoice is None:
        raise NotFound("No such invoice")
    if invoice.voided_at is not None:
        raise Conflict(
            "Invoice %(number)s is void and cannot be changed",
            code="invoice_void",
            number=invoice.number,
        )
    if allocated > 0:
        raise Conflict(
            "Invoice %(number)s has payments on it and cannot be changed",
            code="invoice_has_payments",
            number=invoice.number,
        )
    if in_active_request:
        raise Conflict(
            "Invoice %(number)s is in a payment request waiting for the customer; "
            "cancel the request before changing the invoice",
            code="invoice_busy",
            number=invoice.number,
        )
    if data.customer_id != invoice.customer_id:
        raise ValidationFailed("An invoice cannot move to another customer", field="customer_id")
    if data.currency != invoice.currency and in_any_request:
        raise Conflict(
            "Invoice %(number)s has been in a payment request; its currency cannot change",
            field="currency",
            number=invoice.number,
        )
    if data.due_date < data.issue_date:
        raise ValidationFailed("The due date cannot be before the issue date", field="due_date")
    if await repository.number_taken(session, data.number, except_id=invoice.id):
        raise _number_taken(data.number)
    given = data.model_fields_set
    if (
        "external_id" in given
        and data.external_id
        and await repository.external_id_taken(session, data.external_id, except_id=invoice.id)
    ):
        raise _external_id_taken(data.external_id)
    lines = _build_lines(data)
    total = _total(lines)
    before = _shown(invoice)
    # Old lines go first: (invoice_id, position) is unique and the new ones reuse positions.
    invoice.lines.clear()
    await session.flush()
    invoice.number = data.number
    invoice.issue_date = data.issue_date
    invoice.due_date = data.due_date
    invoice.currency = data.currency
    invoice.note = data.note
    invoice.total = total
    if "external_id" in given:
        invoice.external_id = data.external_id
    if "reference" in given:
        invoice.reference = data.reference
    invoice.lines.extend(lines)
    await _flush_number(session, data.number)
    await _announce(session, invoice, names.INVOICE_UPDATED)
    details = {"number": invoice.number, **audit.changes(before, _shown(invoice))}
    await audit.record_edit(session, "invoice.update", invoice.id, actor_id, details)
    return invoice


def _shown(invoice: Invoice) -> dict[str, object]:
    """The values of an invoice an edit may change, as the audit log names them."""
    return {
        "number": invoice.number,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "currency": invoice.currency,
        "note": invoice.note or "",
        "total": invoice.total,
        "lines": len(invoice.lines),
        "external_id": invoice.external_id or "",
        "reference": invoice.reference or "",
    }


async def _announce(session: AsyncSession, invoice: Invoice, name: str) -> None:
    """Live pages and automations hear of the change, in the same transaction."""
    await outbox.record(
        session,
        name=name,
        aggregate_type="invoice",
        aggregate_id=invoice.id,
        customer_id=invoice.customer_id,
        payload={"number": invoice.number, "total": invoice.total, "currency": invoice.currency},
    )


async def set_reminders_paused(
    session: AsyncSession, *, invoice_id: int, paused: bool, actor_id: int | None = None
) -> Invoice:
    """Staff pause the reminders of one invoice (its steps wait) or resume them; the same
    again changes nothing and is not recorded."""
    invoice = await repository.lock(session, invoice_id)
    if invoice is None:
        raise NotFound("No such invoice")
    if invoice.reminders_paused != paused:
        invoice.reminders_paused = paused
        await session.flush()
        details = {"number": invoice.number, "reminders_paused": paused}
        await audit.record_edit(session, "invoice.reminders", invoice.id, actor_id, details)
    return invoice
