"""Receipt lines for the provider, built from the invoices a request covers."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from payrequest.invoices.lines import QUANTITY_SCALE
from payrequest.invoices.models import Invoice
from payrequest.kit.money import div_round_half_up
from payrequest.providers.base import OrderLine


def order_lines(invoices: Sequence[Invoice], planned: dict[int, int]) -> list[OrderLine]:
    """Each invoice line as is; an invoice paid only in part becomes one line for the rest."""
    lines: list[OrderLine] = []
    for invoice in invoices:
        amount = planned[invoice.id]
        if amount == invoice.total:
            lines.extend(_full(invoice))
        else:
            lines.append(_remaining(invoice, amount))
    return lines


def _full(invoice: Invoice) -> list[OrderLine]:
    return [
        OrderLine(
            line_id=f"{invoice.number}-{line.position}",
            name=f"{invoice.number}: {line.description}"[:100],
            quantity=str(Decimal(line.quantity_milli) / QUANTITY_SCALE),
            unit_price=line.unit_price,
            total=line.net_amount + line.vat_amount,
            total_excluding_tax=line.net_amount,
            tax_amount=line.vat_amount,
            tax_rate_bp=line.vat_rate_bp,
        )
        for line in invoice.lines
    ]


def _remaining(invoice: Invoice, amount: int) -> OrderLine:
    """What is left of a partly paid invoice, VAT in proportion to the invoice's VAT."""
    vat_total = sum(line.vat_amount for line in invoice.lines)
    tax = div_round_half_up(amount * vat_total, invoice.total) if invoice.total else 0
    net = amount - tax
    rate = div_round_half_up(tax * 10_000, net) if net else 0
    return OrderLine(
        line_id=f"{invoice.number}-rest",
        name=f"Invoice {invoice.number}, remaining amount"[:100],
        quantity="1",
        unit_price=net,
        total=amount,
        total_excluding_tax=net,
        tax_amount=tax,
        tax_rate_bp=rate,
    )
