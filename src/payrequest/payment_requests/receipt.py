"""Receipt lines for the provider, built from the invoices a request covers.

An invoice asked for in full keeps its own lines. Any other becomes one line for the part
asked for, named in the customer's language: what remains of an invoice paid in part before,
or a part payment (an instalment that leaves some of the invoice open).

Invoices price a unit excluding VAT; a receipt line states the price of one unit including
VAT. It is converted here, once: the line's total including VAT divided by its quantity,
rounded half up to the minor unit. The total stays exact (the lines add up to the amount
asked for), so unit price × quantity is within half a minor unit per unit of the total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from babel.numbers import format_decimal

from payrequest import i18n
from payrequest.errors import N_
from payrequest.invoices.lines import QUANTITY_SCALE
from payrequest.invoices.models import Invoice, InvoiceLine
from payrequest.invoices.vat import vat_in_part
from payrequest.kit.money import div_round_half_up
from payrequest.providers.base import OrderLine

REMAINING = N_("Invoice %(number)s, remaining amount")
PART = N_("Invoice %(number)s, part payment")


def order_lines(
    invoices: Sequence[Invoice],
    planned: Mapping[int, int],
    *,
    open_amounts: Mapping[int, int],
    language: str,
) -> list[OrderLine]:
    """The lines for `planned` (invoice id -> amount asked for), given what is open on each
    invoice besides this request, in the customer's `language`."""
    lines: list[OrderLine] = []
    for invoice in invoices:
        amount = planned[invoice.id]
        if amount == invoice.total:
            lines.extend(_full(invoice, language))
        else:
            template = PART if amount < open_amounts.get(invoice.id, amount) else REMAINING
            name = i18n.render(language, template, {"number": invoice.number})
            lines.append(_remaining(invoice, amount, name))
    return lines


def _full(invoice: Invoice, language: str) -> list[OrderLine]:
    return [_line(invoice, line, language) for line in invoice.lines]


def _line(invoice: Invoice, line: InvoiceLine, language: str) -> OrderLine:
    quantity = Decimal(line.quantity_milli) / QUANTITY_SCALE
    total = line.net_amount + line.vat_amount
    return OrderLine(
        line_id=f"{invoice.number}-{line.position}",
        name=f"{invoice.number}: {line.description}"[:100],
        quantity=str(quantity),
        unit_price_including_tax=unit_price_including_tax(total, line.quantity_milli),
        total=total,
        total_excluding_tax=line.net_amount,
        tax_amount=line.vat_amount,
        tax_rate_bp=line.vat_rate_bp,
        quantity_label=format_decimal(quantity, locale=i18n.babel_locale(language)),
    )


def unit_price_including_tax(total: int, quantity_milli: int) -> int:
    """The price of one unit including VAT: the line's total ÷ its quantity, half up."""
    return div_round_half_up(total * QUANTITY_SCALE, quantity_milli)


def _remaining(invoice: Invoice, amount: int, name: str) -> OrderLine:
    """One line for a part of an invoice, VAT in proportion to the invoice's VAT."""
    tax = vat_in_part(invoice, amount)
    net = amount - tax
    rate = div_round_half_up(tax * 10_000, net) if net else 0
    return OrderLine(
        line_id=f"{invoice.number}-rest",
        name=name[:100],
        quantity="1",
        unit_price_including_tax=amount,
        total=amount,
        total_excluding_tax=net,
        tax_amount=tax,
        tax_rate_bp=rate,
    )
