"""Invoice line arithmetic: quantity x unit price, then VAT, each rounded half-up to the øre."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from payrequest.errors import ValidationFailed
from payrequest.kit.money import div_round_half_up

QUANTITY_SCALE = 1000  # quantities are stored in thousandths: 1.5 hours = 1500
BASIS_POINTS = 10_000  # VAT rates in basis points: 25 % = 2500
MAX_QUANTITY_MILLI = 10**12  # a thousand million of anything: far beyond any invoice line
MAX_LINE_TOTAL = 10**13  # minor units; far beyond any invoice, well inside BIGINT


@dataclass(frozen=True, slots=True)
class LineAmounts:
    quantity_milli: int
    net: int
    vat: int

    @property
    def total(self) -> int:
        return self.net + self.vat


def quantity_to_milli(quantity: Decimal | int | str) -> int:
    value = Decimal(str(quantity))
    scaled = value * QUANTITY_SCALE
    if scaled != scaled.to_integral_value():
        raise ValidationFailed("Quantity can have at most three decimals", field="quantity")
    if scaled <= 0:
        raise ValidationFailed("Quantity must be more than zero", field="quantity")
    if scaled > MAX_QUANTITY_MILLI:
        raise ValidationFailed("Quantity is too large", field="quantity")
    return int(scaled)


def line_amounts(quantity: Decimal | int | str, unit_price: int, vat_rate_bp: int) -> LineAmounts:
    """Net and VAT of one line; `unit_price` in minor units excluding VAT."""
    if unit_price < 0:
        raise ValidationFailed("Unit price cannot be negative", field="unit_price")
    if not 0 <= vat_rate_bp <= BASIS_POINTS:
        raise ValidationFailed("VAT rate must be between 0 and 100 %%", field="vat_rate")
    milli = quantity_to_milli(quantity)
    net = div_round_half_up(milli * unit_price, QUANTITY_SCALE)
    vat = div_round_half_up(net * vat_rate_bp, BASIS_POINTS)
    if net + vat > MAX_LINE_TOTAL:
        raise ValidationFailed("the amount is too large", field="unit_price")
    return LineAmounts(quantity_milli=milli, net=net, vat=vat)
