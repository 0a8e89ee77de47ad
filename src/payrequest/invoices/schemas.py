"""Input shapes for invoices. Money arrives as integer minor units."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

InvoiceNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)
]


class InvoiceLineInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]
    quantity: Decimal = Decimal(1)
    unit_price: int  # minor units, excluding VAT
    vat_rate_bp: Annotated[int, Field(ge=0, le=10_000)] = 2500


class InvoiceInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: InvoiceNumber
    customer_id: int
    issue_date: date
    due_date: date
    currency: Annotated[str, StringConstraints(pattern=r"^(NOK|DKK|EUR|SEK)$")]
    lines: Annotated[list[InvoiceLineInput], Field(min_length=1, max_length=500)]
    note: Annotated[str | None, StringConstraints(max_length=500)] = None
