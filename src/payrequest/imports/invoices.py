"""Invoices from CSV: one row per invoice line; the lines of one invoice on consecutive rows
with the same `external_id`, upserted by it (docs/csv.md).

The invoice's own columns (`number`, `customer_external_id`, dates, `currency`, `reference`,
`note`) are read from its first row; a later row may leave them empty or repeat them, not
differ. The lines given replace the invoice's lines. Amounts are major units (`1 234,50`)
turned into minor units through kit.money; the VAT rate is in percent."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.commands.invoices import upsert_invoice
from payrequest.errors import PayrequestError, ValidationFailed
from payrequest.imports import values
from payrequest.imports.reader import SourceRow
from payrequest.imports.records import Record, refused, too_many_cells, validated
from payrequest.imports.seen import Seen
from payrequest.invoices.lines import line_amounts
from payrequest.invoices.models import Invoice
from payrequest.invoices.schemas import InvoiceLineInput, InvoiceUpsert
from payrequest.kit.money import minor_digits, shared_minor_digits, to_minor
from payrequest.kit.upserted import Upserted

INVOICE_COLUMNS = (
    "external_id",
    "number",
    "customer_external_id",
    "issue_date",
    "due_date",
    "currency",
    "reference",
    "note",
)
LINE_COLUMNS = ("description", "quantity", "unit_price", "vat_rate")
COLUMNS = INVOICE_COLUMNS + LINE_COLUMNS
REQUIRED = (
    "external_id",
    "customer_external_id",
    "due_date",
    "description",
    "unit_price",
    "vat_rate",
)
MOST_LINES = 500  # as many as an invoice may have (invoices.schemas)
LABELS = {name: name for name in COLUMNS}
# Where a domain error's field is in the file.
FIELD_COLUMNS = {"customer_id": "customer_external_id", "lines": "description"}


def invoice_columns(row: SourceRow, columns: tuple[str, ...]) -> dict[str, str]:
    """The invoice's own values a row gives (empty cells left out)."""
    return {name: row.get(name) for name in INVOICE_COLUMNS if name in columns and row.get(name)}


def invoice_input(header: dict[str, str], lines: list[InvoiceLineInput]) -> InvoiceUpsert:
    given: dict[str, Any] = dict(header)
    for name in ("issue_date", "due_date"):
        if name in given:
            given[name] = values.day(given[name], name)
    if "currency" in given:
        given["currency"] = given["currency"].upper()
    result: InvoiceUpsert = validated(InvoiceUpsert, {**given, "lines": lines}, LABELS)
    return result


def line_input(row: SourceRow, currency: str | None) -> InvoiceLineInput:
    description = values.limited(
        values.required(row.get("description"), "description"), "description", 200
    )
    quantity_text = row.get("quantity")
    digits = minor_digits(currency) if currency else shared_minor_digits()
    price = values.decimal(values.required(row.get("unit_price"), "unit_price"), "unit_price")
    try:
        unit_price = to_minor(price, digits)
    except ValueError:
        raise ValidationFailed(
            "%(column)s: “%(text)s” has more decimals than the currency has",
            field="unit_price",
            column="unit_price",
            text=row.get("unit_price"),
        ) from None
    line: InvoiceLineInput = validated(
        InvoiceLineInput,
        {
            "description": description,
            "quantity": values.decimal(quantity_text, "quantity") if quantity_text else 1,
            "unit_price": unit_price,
            "vat_rate_bp": values.percent_basis_points(
                values.required(row.get("vat_rate"), "vat_rate"), "vat_rate"
            ),
        },
        {"vat_rate_bp": "vat_rate", "unit_price": "unit_price", "quantity": "quantity"},
    )
    line_amounts(line.quantity, line.unit_price, line.vat_rate_bp)  # what the invoice will check
    return line


@dataclass
class _Invoice:
    """The rows of one invoice as they are read."""

    external_id: str
    header: dict[str, str]
    rows: list[int] = field(default_factory=list)
    lines: list[InvoiceLineInput] = field(default_factory=list)
    error: PayrequestError | None = None
    error_row: int = 0

    def add(self, row: SourceRow, columns: tuple[str, ...]) -> None:
        self.rows.append(row.number)
        if self.error is not None:
            return  # refused already: its rows are only counted
        try:
            self._add(row, columns)
        except PayrequestError as exc:
            self.error, self.error_row = exc, row.number
            self.lines.clear()

    def _add(self, row: SourceRow, columns: tuple[str, ...]) -> None:
        if row.extra:
            raise too_many_cells(row)
        for name, value in invoice_columns(row, columns).items():
            if self.header.setdefault(name, value) != value:
                raise ValidationFailed(
                    "%(column)s differs from the invoice's first row (%(first)s); the rows of "
                    "one invoice share its values",
                    field=name,
                    column=name,
                    first=self.header[name],
                )
        if len(self.lines) >= MOST_LINES:
            raise ValidationFailed(
                "An invoice can have at most %(limit)s lines", field="description", limit=MOST_LINES
            )
        self.lines.append(line_input(row, self.header.get("currency", "").upper() or None))

    def record(self) -> Record:
        rows = tuple(self.rows)
        if self.error is not None:
            return refused(rows, self.error, self.error_row)
        try:
            return Record(rows, invoice_input(self.header, self.lines))
        except PayrequestError as exc:
            return refused(rows, exc)


class Invoices:
    name: str = "invoices"
    required: tuple[str, ...] = REQUIRED
    known: tuple[str, ...] = COLUMNS
    columns_of_fields: Mapping[str, str] = FIELD_COLUMNS

    def records(self, rows: Iterator[SourceRow], columns: tuple[str, ...]) -> Iterator[Record]:
        seen = Seen()
        current: _Invoice | None = None
        for row in rows:
            external_id = row.get("external_id")
            if current is not None and external_id == current.external_id:
                current.add(row, columns)
                continue
            if current is not None:
                yield current.record()
                current = None
            if not external_id:
                yield refused((row.number,), values.empty("external_id"))
                continue
            current = _Invoice(external_id, {})
            if seen.again(external_id):
                current.error, current.error_row = _not_consecutive(external_id), row.number
            current.add(row, columns)
        if current is not None:
            yield current.record()

    async def upsert(
        self, session: AsyncSession, data: Any, actor_id: int | None
    ) -> Upserted[Invoice]:
        return await upsert_invoice(session, data=data, actor_id=actor_id)


def _not_consecutive(external_id: str) -> ValidationFailed:
    return ValidationFailed(
        "Invoice %(external_id)s came earlier in the file: the lines of one invoice must be on "
        "consecutive rows",
        field="external_id",
        external_id=external_id,
    )


INVOICES = Invoices()
