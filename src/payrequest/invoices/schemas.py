"""Input shapes for invoices. Money arrives as integer minor units."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

InvoiceNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)
]
ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# The payment reference printed on the invoice (KID: digits; other countries' references may
# hold letters), as the business's own system made it.
PaymentReference = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)
]
Currency = Annotated[str, StringConstraints(pattern=r"^(NOK|DKK|EUR|SEK)$")]
Note = Annotated[str | None, StringConstraints(max_length=500)]


class InvoiceLineInput(BaseModel):
    # An unknown field is refused, not dropped: a misspelt `vat_rate` must not become 25 %.
    model_config = ConfigDict(frozen=True, extra="forbid")

    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]
    quantity: Decimal = Decimal(1)
    unit_price: int  # minor units, excluding VAT
    vat_rate_bp: Annotated[int, Field(ge=0, le=10_000)] = 2500


Lines = Annotated[list[InvoiceLineInput], Field(min_length=1, max_length=500)]


class InvoiceInput(BaseModel):
    """An invoice as a form or the API gives it. `external_id` and `reference` are changed by
    an update only when given (the admin's form has no such fields)."""

    model_config = ConfigDict(frozen=True)

    number: InvoiceNumber
    customer_id: int
    issue_date: date
    due_date: date
    currency: Currency
    lines: Lines
    note: Note = None
    external_id: ExternalId | None = None
    reference: PaymentReference | None = None


class InvoiceFields(BaseModel):
    """An invoice's content, each field optional: what a change sets (the others are kept) or
    what a new invoice starts from (see `NewInvoice` for what it must have)."""

    model_config = ConfigDict(frozen=True)

    number: InvoiceNumber | None = None  # a new invoice without one gets the next free number
    reference: PaymentReference | None = None
    issue_date: date | None = None  # a new invoice without one is issued today
    due_date: date | None = None
    currency: Currency | None = None  # a new invoice without one: the customer's country's
    lines: Lines | None = None
    note: Note = None


class InvoiceChanges(InvoiceFields):
    """What to change of an invoice (invoices.upsert.change_invoice), its external id too."""

    external_id: ExternalId | None = None


class NewInvoice(InvoiceFields):
    """A new invoice (invoices.upsert.create_invoice): its customer given by our id or by the
    customer's own external id, a due date and lines at least."""

    external_id: ExternalId | None = None
    customer_id: int | None = None
    customer_external_id: ExternalId | None = None


class InvoiceUpsert(NewInvoice):
    """An invoice keyed by the business's own id (invoices.upsert.upsert_invoice): created
    when new, else the fields given are changed and the others kept. The customer cannot
    change once the invoice exists."""

    external_id: ExternalId
