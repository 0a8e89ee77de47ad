"""The VAT in what was paid on an invoice, in all and per VAT rate.

Paid in full, an invoice's VAT is its lines' VAT. Paid in part, the part carries VAT in
proportion to the invoice's: `part x VAT / total`, rounded half up (`vat_in_part`, which the
provider's receipt lines use too). Per rate, the part and its VAT are split across the rates
in proportion to each rate's total and VAT, so that the rows add up to exactly the part and
its VAT.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from payrequest.invoices.models import Invoice
from payrequest.kit.money import div_round_half_up, split_proportionally


@dataclass(frozen=True, slots=True)
class VatRow:
    """What was paid at one VAT rate, in minor units."""

    rate_bp: int  # basis points: 2500 = 25 %
    net: int
    vat: int

    @property
    def total(self) -> int:
        return self.net + self.vat


def vat_in_part(invoice: Invoice, amount: int) -> int:
    """The VAT in `amount` paid on `invoice` (its lines loaded)."""
    vat_total = sum(line.vat_amount for line in invoice.lines)
    return div_round_half_up(amount * vat_total, invoice.total) if invoice.total else 0


def paid_by_rate(invoice: Invoice, amount: int) -> list[VatRow]:
    """`amount` paid on `invoice` (its lines loaded) per VAT rate, lowest rate first."""
    whole = _by_rate(invoice)
    if amount >= invoice.total or not whole:
        return whole
    if amount <= 0:
        return []
    totals = split_proportionally(amount, [row.total for row in whole])
    vat = vat_in_part(invoice, amount)
    weights = [row.vat for row in whole]
    vats = split_proportionally(vat, weights) if any(weights) else [0] * len(whole)
    return [
        VatRow(row.rate_bp, net=total - tax, vat=tax)
        for row, total, tax in zip(whole, totals, vats, strict=True)
    ]


def add_up(rows: Iterable[VatRow]) -> list[VatRow]:
    """Rows of several invoices as one row per rate, lowest rate first."""
    sums: dict[int, tuple[int, int]] = {}
    for row in rows:
        net, vat = sums.get(row.rate_bp, (0, 0))
        sums[row.rate_bp] = (net + row.net, vat + row.vat)
    return [VatRow(rate, net, vat) for rate, (net, vat) in sorted(sums.items())]


def _by_rate(invoice: Invoice) -> list[VatRow]:
    return add_up(
        VatRow(line.vat_rate_bp, line.net_amount, line.vat_amount) for line in invoice.lines
    )
