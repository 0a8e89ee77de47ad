"""Invoices from the fields given: a new one (`create_invoice`), a change of some fields of one
(`change_invoice`), and the upsert keyed by the business's own id (`upsert_invoice`):
created when new, else the fields given are changed and the others kept. A change follows the
rules of `service.update_invoice` (nothing paid on it, not in a payment request waiting for
the customer). The same data again changes nothing: no write, no event, no audit entry, even
on an invoice that may no longer change.

What has been paid on an invoice and which requests hold it are known above this package (the
ledger, the payment requests): the caller hands in `usage`, which asks them
(payrequest.commands.invoices does)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers import repository as customers
from payrequest.customers.models import Customer
from payrequest.errors import Conflict, NotFound, ValidationFailed
from payrequest.invoices import repository, service
from payrequest.invoices.lines import QUANTITY_SCALE, quantity_to_milli
from payrequest.invoices.models import Invoice
from payrequest.invoices.schemas import (
    InvoiceChanges,
    InvoiceFields,
    InvoiceInput,
    InvoiceLineInput,
    InvoiceUpsert,
    NewInvoice,
)
from payrequest.kit.clock import utcnow
from payrequest.kit.markets import COUNTRY_CURRENCY
from payrequest.kit.upserted import Upserted

# The fields a change puts over the stored invoice.
_CHANGEABLE = (
    "number",
    "reference",
    "issue_date",
    "due_date",
    "currency",
    "lines",
    "note",
    "external_id",
)


@dataclass(frozen=True, slots=True)
class InvoiceUsage:
    """What stands in the way of changing an invoice: money ever applied to it (the ledger's
    positive allocations), and whether a payment request is collecting it now or ever asked
    for it."""

    allocated: int
    in_active_request: bool
    in_any_request: bool


class UsageOf(Protocol):
    async def __call__(self, session: AsyncSession, invoice_id: int) -> InvoiceUsage: ...


async def upsert_invoice(
    session: AsyncSession, *, data: InvoiceUpsert, actor_id: int | None, usage: UsageOf
) -> Upserted[Invoice]:
    customer = await _customer(session, data)
    invoice = await repository.get_by_external_id(session, data.external_id, for_update=True)
    if invoice is None:
        created = await _create(session, data, customer, actor_id)
        return Upserted(created, created=True, changed=True)
    if customer is not None and customer.id != invoice.customer_id:
        raise ValidationFailed("An invoice cannot move to another customer", field="customer_id")
    return await _change(session, invoice, data, actor_id, usage)


async def create_invoice(
    session: AsyncSession, *, data: NewInvoice, actor_id: int | None
) -> Invoice:
    return await _create(session, data, await _customer(session, data), actor_id)


async def change_invoice(
    session: AsyncSession,
    *,
    invoice_id: int,
    data: InvoiceChanges,
    actor_id: int | None,
    usage: UsageOf,
) -> Upserted[Invoice]:
    """Change the fields `data` gives, the others kept; the same values again change nothing."""
    invoice = await repository.lock(session, invoice_id)
    if invoice is None:
        raise NotFound("No such invoice")
    return await _change(session, invoice, data, actor_id, usage)


async def _change(
    session: AsyncSession,
    invoice: Invoice,
    data: InvoiceFields,
    actor_id: int | None,
    usage: UsageOf,
) -> Upserted[Invoice]:
    merged = merged_input(invoice, data)
    if _content(merged) == _stored_content(invoice):
        return Upserted(invoice, created=False, changed=False)
    used = await usage(session, invoice.id)
    updated = await service.update_invoice(
        session,
        invoice_id=invoice.id,
        data=merged,
        allocated=used.allocated,
        in_active_request=used.in_active_request,
        in_any_request=used.in_any_request,
        actor_id=actor_id,
    )
    return Upserted(updated, created=False, changed=True)


def merged_input(invoice: Invoice, data: InvoiceFields) -> InvoiceInput:
    """The invoice as stored with the fields `data` gives put over it (an upsert's external
    id is the key it was found by, the same)."""
    values: dict[str, object] = {
        "number": invoice.number,
        "reference": invoice.reference,
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "currency": invoice.currency,
        "note": invoice.note,
        "external_id": invoice.external_id,
        "lines": [
            InvoiceLineInput(
                description=line.description,
                quantity=Decimal(line.quantity_milli) / QUANTITY_SCALE,
                unit_price=line.unit_price,
                vat_rate_bp=line.vat_rate_bp,
            )
            for line in invoice.lines
        ],
    }
    stored = dict(values)
    for name in _CHANGEABLE:
        if name in data.model_fields_set:
            values[name] = getattr(data, name)
    for kept in ("number", "issue_date", "due_date", "currency", "lines"):
        if values[kept] is None:  # cannot be taken away, only changed
            values[kept] = stored[kept]
    return InvoiceInput.model_validate({**values, "customer_id": invoice.customer_id})


def _content(data: InvoiceInput) -> tuple[object, ...]:
    lines = tuple(
        (line.description, quantity_to_milli(line.quantity), line.unit_price, line.vat_rate_bp)
        for line in data.lines
    )
    return (
        data.number,
        data.reference,
        data.issue_date,
        data.due_date,
        data.currency,
        data.note,
        data.external_id,
        lines,
    )


def _stored_content(invoice: Invoice) -> tuple[object, ...]:
    lines = tuple(
        (line.description, line.quantity_milli, line.unit_price, line.vat_rate_bp)
        for line in invoice.lines
    )
    return (
        invoice.number,
        invoice.reference,
        invoice.issue_date,
        invoice.due_date,
        invoice.currency,
        invoice.note,
        invoice.external_id,
        lines,
    )


async def _customer(session: AsyncSession, data: NewInvoice) -> Customer | None:
    """The customer `data` names (by our id or its external id), None when it names none."""
    by_id = by_external_id = None
    if data.customer_id is not None:
        by_id = await customers.get(session, data.customer_id)
        if by_id is None:
            raise NotFound("No such customer", field="customer_id")
    if data.customer_external_id is not None:
        by_external_id = await customers.get_by_external_id(session, data.customer_external_id)
        if by_external_id is None:
            raise NotFound(
                "No customer has the external id %(external_id)s",
                field="customer_external_id",
                external_id=data.customer_external_id,
            )
    if by_id is not None and by_external_id is not None and by_id.id != by_external_id.id:
        raise ValidationFailed(
            "customer_id and customer_external_id name different customers",
            field="customer_external_id",
        )
    return by_id or by_external_id


async def _create(
    session: AsyncSession, data: NewInvoice, customer: Customer | None, actor_id: int | None
) -> Invoice:
    if customer is None:
        raise _needed("customer_id")
    if data.due_date is None:
        raise _needed("due_date")
    if data.lines is None:
        raise _needed("lines")
    number = data.number or await repository.next_number(session)
    if not number:
        raise _needed("number")
    new = InvoiceInput(
        number=number,
        customer_id=customer.id,
        issue_date=data.issue_date or utcnow().date(),
        due_date=data.due_date,
        currency=data.currency or COUNTRY_CURRENCY.get(customer.country, "NOK"),
        lines=data.lines,
        note=data.note,
        external_id=data.external_id,
        reference=data.reference,
    )
    try:
        async with session.begin_nested():
            return await service.create_invoice(session, data=new, actor_id=actor_id)
    except IntegrityError:
        # Another request took the same number or external id a moment ago.
        if data.external_id is None:
            raise Conflict(
                "Invoice number %(number)s already exists", field="number", number=number
            ) from None
        raise Conflict(
            "Another invoice has the external id %(external_id)s",
            field="external_id",
            code="external_id_taken",
            external_id=data.external_id,
        ) from None


def _needed(field: str) -> ValidationFailed:
    return ValidationFailed("A new invoice needs a value for %(name)s", field=field, name=field)
