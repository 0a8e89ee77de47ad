from __future__ import annotations

from decimal import Decimal

import pytest

from payrequest.errors import ValidationFailed
from payrequest.invoices.lines import line_amounts


def test_net_and_vat_rounded_half_up_to_the_ore() -> None:
    amounts = line_amounts(Decimal("1.5"), 33_333, 2500)  # 1.5 x 333.33 kr + 25 %
    assert amounts.net == 50_000  # 49 999.5 øre rounds up
    assert amounts.vat == 12_500
    assert amounts.total == 62_500


def test_food_vat() -> None:
    amounts = line_amounts(3, 18_900, 1500)
    assert (amounts.net, amounts.vat) == (56_700, 8_505)


@pytest.mark.parametrize(
    ("quantity", "price", "vat", "message"),
    [
        (0, 100, 2500, "more than zero"),
        (-1, 100, 2500, "more than zero"),
        (Decimal("0.0001"), 100, 2500, "three decimals"),
        (1, -100, 2500, "cannot be negative"),
        (1, 100, 10_001, "between 0 and 100"),
    ],
)
def test_bad_lines_are_refused(quantity: object, price: int, vat: int, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        line_amounts(quantity, price, vat)  # type: ignore[arg-type]
