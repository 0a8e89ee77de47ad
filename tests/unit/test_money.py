from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payrequest.errors import CurrencyMismatch, ValidationFailed
from payrequest.kit.money import (
    Money,
    div_round_half_up,
    parse_money,
    shared_minor_digits,
    split_proportionally,
    to_major,
    to_minor,
    total,
)

currencies = st.sampled_from(["NOK", "DKK", "EUR"])
amounts = st.integers(min_value=-(10**12), max_value=10**12)


@given(amount=amounts, weights=st.lists(st.integers(0, 10**6), min_size=1, max_size=30))
def test_split_never_loses_or_creates_an_ore(amount: int, weights: list[int]) -> None:
    if sum(weights) == 0:
        with pytest.raises(ValueError, match="zero"):
            split_proportionally(amount, weights)
        return
    parts = split_proportionally(amount, weights)
    assert sum(parts) == amount
    assert len(parts) == len(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = amount * weight / sum(weights)
        assert abs(part - exact) < 1  # each part within one øre of its exact share
        if weight == 0:
            assert part == 0


@given(amount=st.integers(0, 10**9), n=st.integers(1, 50))
def test_equal_weights_differ_by_at_most_one(amount: int, n: int) -> None:
    parts = Money(amount, "NOK").allocate([1] * n)
    values = [p.amount for p in parts]
    assert max(values) - min(values) <= 1
    assert sum(values) == amount


@given(a=amounts, b=amounts, currency=currencies)
def test_add_and_subtract_are_exact(a: int, b: int, currency: str) -> None:
    x, y = Money(a, currency), Money(b, currency)
    assert (x + y) - y == x
    assert (x - y).amount == a - b


def test_mixing_currencies_is_refused() -> None:
    with pytest.raises(CurrencyMismatch, match="NOK and DKK"):
        _ = Money(100, "NOK") + Money(100, "DKK")
    with pytest.raises(CurrencyMismatch):
        total([Money(1, "NOK"), Money(1, "EUR")], "NOK")


@pytest.mark.parametrize("bad", [1.5, 1.0, "100", True])
def test_money_refuses_anything_but_integer_minor_units(bad: object) -> None:
    with pytest.raises(TypeError):
        Money(bad, "NOK")  # type: ignore[arg-type]


def test_unknown_currency_is_a_clear_error() -> None:
    with pytest.raises(ValidationFailed, match="Unsupported currency USD"):
        Money(1, "USD")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 234,50", 123_450),
        ("1\u00a0234,50", 123_450),
        ("1234.5", 123_450),
        ("kr 99", 9_900),
        ("1.234,50", 123_450),
        ("1,234.50", 123_450),
        ("100,-", 10_000),
        ("0,01", 1),
        ("12 345", 1_234_500),
        ("1.234", 123_400),
    ],
)
def test_parse_what_people_type(text: str, expected: int) -> None:
    assert parse_money(text, "NOK") == Money(expected, "NOK")


@pytest.mark.parametrize("text", ["", "abc", "1,2,3,4", "12.345,678", "1.2345", "--5", "1,5,0"])
def test_parse_refuses_garbage_with_a_message(text: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_money(text, "NOK")


@given(amount=st.integers(0, 10**11), currency=currencies)
def test_format_then_parse_round_trips(amount: int, currency: str) -> None:
    money = Money(amount, currency)
    for locale in ("nb_NO", "da_DK", "fi_FI"):
        assert parse_money(money.format(locale), currency) == money


def test_format_per_locale() -> None:
    assert Money(123_450, "NOK").format("nb_NO") == "1\u00a0234,50\u00a0kr"
    assert Money(123_450, "DKK").format("da_DK") == "1.234,50\u00a0kr."
    assert Money(123_450, "EUR").format("fi_FI") == "1\u00a0234,50\u00a0€"
    # CLDR currency spacing: letters and digits apart, a symbol next to them.
    assert Money(123_450, "NOK").format("en") == "NOK\u00a01,234.50"
    assert Money(-123_450, "NOK").format("en_GB") == "-NOK\u00a01,234.50"
    assert Money(123_450, "EUR").format("en_GB") == "€1,234.50"


@given(n=st.integers(-(10**9), 10**9), d=st.integers(1, 10**6))
def test_round_half_up_is_within_half(n: int, d: int) -> None:
    q = div_round_half_up(n, d)
    assert abs(q * d - n) * 2 <= d


@given(
    amount=st.integers(-(10**13), 10**13),
    currency=st.sampled_from(["NOK", "DKK", "EUR", "SEK"]),
    locale=st.sampled_from(["nb_NO", "da_DK", "fi_FI", "en_GB", "en", "sv_SE", "de_DE"]),
)
def test_fast_formatting_matches_babel_exactly(amount: int, currency: str, locale: str) -> None:
    """Babel's own formatting, plus the CLDR currency spacing that Babel leaves out."""
    from decimal import Decimal

    from babel.numbers import format_currency

    from payrequest.kit.money import spaced

    expected = format_currency(Decimal(amount).scaleb(-2), currency, locale=locale)
    assert Money(amount, currency).format(locale) == spaced(expected)


def test_minor_units_from_and_to_decimals() -> None:
    assert to_minor(Decimal("99.5"), 2) == 9950
    assert to_minor(Decimal("-0.01"), 2) == -1
    assert to_minor(Decimal("1E+2"), 2) == 10_000
    assert to_major(9950, 2) == Decimal("99.50") and str(to_major(9950, 2)) == "99.50"
    assert to_major(-1, 2) == Decimal("-0.01")
    for finer_or_not_a_number in ("0.001", "NaN", "Infinity"):
        with pytest.raises(ValueError):
            to_minor(Decimal(finer_or_not_a_number), 2)


@given(amount=amounts, currency=currencies)
def test_decimal_round_trip_is_exact(amount: int, currency: str) -> None:
    money = Money(amount, currency)
    assert Money.from_decimal(money.to_decimal(), currency) == money


def test_from_decimal_refuses_fractions_of_the_minor_unit() -> None:
    assert Money.from_decimal(Decimal("100.50"), "NOK") == Money(10_050, "NOK")
    with pytest.raises(ValidationFailed) as refused:
        Money.from_decimal(Decimal("100.505"), "NOK")
    assert refused.value.field == "amount"
    with pytest.raises(ValidationFailed, match="Unsupported currency"):
        Money.from_decimal(Decimal(1), "USD")


def test_every_supported_currency_shares_two_minor_digits() -> None:
    assert shared_minor_digits() == 2
