"""The invoice form: what was typed, kept as typed, and read into an `InvoiceInput`.

Split from `invoices.py` so that the routes stay short; nothing here touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from itertools import zip_longest

from pydantic import ValidationError
from starlette.datastructures import FormData

from payrequest.customers.models import Customer
from payrequest.errors import N_, Msg, PayrequestError, ValidationFailed
from payrequest.invoices.lines import line_amounts
from payrequest.invoices.models import Invoice
from payrequest.invoices.schemas import InvoiceInput, InvoiceLineInput
from payrequest.kit.markets import COUNTRY_CURRENCY, CURRENCIES
from payrequest.kit.money import Money, parse_money
from payrequest.kit.validation import from_pydantic
from payrequest.web import i18n

VAT_RATES = ("25", "15", "12", "0")  # percent: standard, food, transport/hotels, exempt
BLANK_ROWS = 5  # empty line rows on a new invoice; at least two more when editing


@dataclass
class LineValues:
    description: str = ""
    quantity: str = "1"
    unit_price: str = ""
    vat_rate: str = "25"

    def is_blank(self) -> bool:
        return not self.description.strip() and not self.unit_price.strip()


@dataclass
class FormValues:
    customer_id: str = ""
    number: str = ""
    issue_date: str = ""
    due_date: str = ""
    currency: str = ""
    note: str = ""
    lines: list[LineValues] = field(default_factory=list)


def form_text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value if isinstance(value, str) else ""


def _texts(form: FormData, key: str) -> list[str]:
    return [v if isinstance(v, str) else "" for v in form.getlist(key)]


def read_form(form: FormData) -> FormValues:
    rows = zip_longest(
        _texts(form, "description"),
        _texts(form, "quantity"),
        _texts(form, "unit_price"),
        _texts(form, "vat_rate"),
        fillvalue="",
    )
    return FormValues(
        customer_id=form_text(form, "customer_id").strip(),
        number=form_text(form, "number"),
        issue_date=form_text(form, "issue_date").strip(),
        due_date=form_text(form, "due_date").strip(),
        currency=form_text(form, "currency").strip(),
        note=form_text(form, "note"),
        lines=[LineValues(d, q, p, v) for d, q, p, v in rows],
    )


def _date(text: str, label: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(
            "Enter the %(label)s as a date (YYYY-MM-DD).", label=Msg(label)
        ) from None


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip().replace(" ", "").replace(",", "."))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _vat_bp(text: str) -> int:
    value = _decimal(text.removesuffix("%"))
    if value is None or not 0 <= value <= 100 or (value * 100) % 1:
        raise ValidationFailed("choose a VAT rate between 0 and 100 %%")
    return int(value * 100)


def _line(row: LineValues, currency: str) -> InvoiceLineInput:
    description = row.description.strip()
    if not description:
        raise ValidationFailed("enter a description")
    if len(description) > 200:
        raise ValidationFailed("the description is longer than 200 characters")
    if not row.unit_price.strip():
        raise ValidationFailed("enter a unit price")
    price = parse_money(row.unit_price, currency).amount
    if price < 0:
        raise ValidationFailed("the unit price cannot be negative")
    quantity = _decimal(row.quantity or "1")
    if quantity is None:
        raise ValidationFailed("the quantity %(value)s is not a number", value=row.quantity)
    vat_bp = _vat_bp(row.vat_rate)
    line_amounts(quantity, price, vat_bp)  # refuses a quantity or total too large
    return InvoiceLineInput(
        description=description, quantity=quantity, unit_price=price, vat_rate_bp=vat_bp
    )


def to_input(values: FormValues, *, customer_id: int, currency: str) -> InvoiceInput:
    """Everything the person typed, checked; a message names the field or line at fault."""
    issue = _date(values.issue_date, N_("issue date"))
    due = _date(values.due_date, N_("due date"))
    lines = []
    for index, row in enumerate(values.lines, start=1):
        if row.is_blank():
            continue
        try:
            lines.append(_line(row, currency))
        except PayrequestError as exc:
            raise ValidationFailed(
                "Line %(n)s: %(problem)s", field="lines", n=index, problem=exc
            ) from None
    if not lines:
        raise ValidationFailed(
            "Add at least one line with a description and a unit price.", field="lines"
        )
    try:
        return InvoiceInput(
            number=values.number,
            customer_id=customer_id,
            issue_date=issue,
            due_date=due,
            currency=currency,
            lines=lines,
            note=values.note.strip() or None,
        )
    except ValidationError as exc:
        raise from_pydantic(exc, FIELD_LABELS) from None


FIELD_LABELS = {"number": N_("Invoice number"), "note": N_("Note"), "currency": N_("Currency")}


def currency_for(chosen: str, customer: Customer) -> str:
    """What was chosen, or the customer's country's currency."""
    if chosen in CURRENCIES:
        return chosen
    if chosen:
        raise ValidationFailed("Choose a currency.", field="currency")
    return COUNTRY_CURRENCY.get(customer.country, "NOK")


def with_blank_rows(lines: list[LineValues]) -> list[LineValues]:
    """The typed lines without trailing blanks, then empty rows to add more."""
    rows = list(lines)
    while rows and rows[-1].is_blank():
        rows.pop()
    return rows + [LineValues() for _ in range(max(BLANK_ROWS - len(rows), 2))]


def line_values(invoice: Invoice) -> list[LineValues]:
    comma = i18n.current_language() in ("nb", "da")

    def show(value: Decimal) -> str:
        text = f"{value:f}"
        return text.replace(".", ",") if comma else text

    return [
        LineValues(
            description=line.description,
            quantity=show(Decimal(line.quantity_milli).scaleb(-3).normalize()),
            unit_price=show(Money(line.unit_price, invoice.currency).to_decimal()),
            vat_rate=percent(line.vat_rate_bp),
        )
        for line in invoice.lines
    ]


def percent(vat_rate_bp: int) -> str:
    return f"{Decimal(vat_rate_bp).scaleb(-2).normalize():f}"


def quantity_text(quantity_milli: int) -> str:
    return f"{Decimal(quantity_milli).scaleb(-3).normalize():f}"
