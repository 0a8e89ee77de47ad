"""A request's lifetime (payment_requests.service.Lifetime), its description in the customer's
language (payment_requests.description) and its receipt lines for a part of an invoice."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from payrequest.errors import ValidationFailed
from payrequest.invoices.models import Invoice, InvoiceLine
from payrequest.payment_requests.description import describe
from payrequest.payment_requests.receipt import order_lines
from payrequest.payment_requests.service import LIFETIME_MARGIN_MINUTES, Lifetime
from payrequest.providers.base import Capabilities, UserFlow

DAY = 24 * 60
NORWAY = Capabilities(long_living=True, max_lifetime_minutes=DAY)
DENMARK = Capabilities(long_living=True, max_lifetime_minutes=60 * DAY)
NOT_APPROVED = Capabilities(long_living=False, max_lifetime_minutes=10)


def invoice(number: str, due: date, total: int = 100_000) -> Invoice:
    line = InvoiceLine(
        position=1,
        description="Work",
        quantity_milli=1000,
        unit_price=total,
        vat_rate_bp=0,
        net_amount=total,
        vat_amount=0,
    )
    return Invoice(id=int(number[-3:]), number=number, due_date=due, total=total, lines=[line])


# --- Lifetime --------------------------------------------------------------------------------


def test_the_default_of_one_day_stays_a_margin_below_norways_limit() -> None:
    lifetime, long_living = Lifetime(DAY, NORWAY).expires_in(None, UserFlow.push)
    assert long_living
    assert lifetime == timedelta(minutes=DAY - LIFETIME_MARGIN_MINUTES)
    assert LIFETIME_MARGIN_MINUTES >= 3


def test_a_default_just_above_the_minimum_is_lifted_by_the_margin() -> None:
    lifetime, long_living = Lifetime(11, DENMARK).expires_in(None, UserFlow.qr)
    assert long_living and lifetime == timedelta(minutes=10 + LIFETIME_MARGIN_MINUTES)


def test_presets_outside_what_the_sales_unit_allows_are_not_offered() -> None:
    assert Lifetime(DAY, NORWAY).presets(UserFlow.push) == [60]
    assert Lifetime(DAY, DENMARK).presets(UserFlow.qr) == [60, DAY, 7 * DAY, 30 * DAY]
    assert Lifetime(DAY, NOT_APPROVED).presets(UserFlow.push) == []


def test_the_redirect_flow_always_gets_the_standard_lifetime() -> None:
    lifetime = Lifetime(DAY, DENMARK)
    assert lifetime.presets(UserFlow.redirect) == []
    assert lifetime.expires_in(None, UserFlow.redirect) == (timedelta(minutes=10), False)
    with pytest.raises(ValidationFailed) as refused:
        lifetime.expires_in(7 * DAY, UserFlow.redirect)
    assert refused.value.code == "lifetime_standard_only"


def test_a_chosen_lifetime_beyond_the_margins_is_refused() -> None:
    lifetime = Lifetime(DAY, NORWAY)
    assert lifetime.expires_in(DAY - 10, UserFlow.push) == (timedelta(minutes=DAY - 10), True)
    for minutes in (DAY, DAY - LIFETIME_MARGIN_MINUTES + 1, 12):
        with pytest.raises(ValidationFailed) as refused:
            lifetime.expires_in(minutes, UserFlow.push)
        assert refused.value.code == "lifetime_out_of_range"
        assert refused.value.field == "lifetime"
    assert lifetime.expires_in(10, UserFlow.push) == (timedelta(minutes=10), False)


def test_without_approval_only_the_standard_lifetime() -> None:
    assert Lifetime(DAY, NOT_APPROVED).expires_in(None, UserFlow.push) == (
        timedelta(minutes=10),
        False,
    )
    assert not Lifetime(DAY, NOT_APPROVED).allows(60, UserFlow.push)
    assert Lifetime(DAY, DENMARK).allows(7 * DAY, UserFlow.qr)


# --- The description in the customer's language ----------------------------------------------


@pytest.mark.parametrize(
    ("language", "one", "several"),
    [
        (
            "nb",
            "Faktura 20260001, forfall 22. nov. 2026",
            "Fakturaer 20260001, 20260003, første forfall 22. nov. 2026",
        ),
        (
            "da",
            "Faktura 20260001, forfald 22. nov. 2026",
            "Fakturaer 20260001, 20260003, første forfald 22. nov. 2026",
        ),
        (
            "en",
            "Invoice 20260001, due 22 Nov 2026",
            "Invoices 20260001, 20260003, first due 22 Nov 2026",
        ),
    ],
)
def test_the_description_is_written_in_the_customers_language(
    language: str, one: str, several: str
) -> None:
    first = invoice("20260001", date(2026, 11, 22))
    later = invoice("20260003", date(2026, 12, 5))
    assert describe([first], language=language) == one
    assert describe([first, later], language=language) == several


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("nb", "Delbetaling av faktura 20260001, forfall 22. nov. 2026"),
        ("da", "Delbetaling af faktura 20260001, forfald 22. nov. 2026"),
        ("en", "Part payment of invoice 20260001, due 22 Nov 2026"),
    ],
)
def test_an_instalment_says_so(language: str, expected: str) -> None:
    first = invoice("20260001", date(2026, 11, 22))
    assert describe([first], language=language, part=True) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("nb", "12 fakturaer, første forfall 1. feb. 2027"),
        ("da", "12 fakturaer, første forfald 1. feb. 2027"),
        ("en", "12 invoices, first due 1 Feb 2027"),
    ],
)
def test_too_many_numbers_become_a_count_within_100_characters(
    language: str, expected: str
) -> None:
    many = [invoice(f"2027000{n:03d}", date(2027, 2, 1) + timedelta(days=n)) for n in range(12)]
    text = describe(many, language=language)
    assert text == expected
    assert 3 <= len(text) <= 100


def test_a_description_never_exceeds_100_characters() -> None:
    long_number = "9" * 32
    many = [invoice(f"{long_number[:-3]}{n:03d}", date(2027, 2, 1)) for n in range(3)]
    for language in ("nb", "da", "en"):
        assert 3 <= len(describe(many, language=language)) <= 100


# --- Receipt lines for a part of an invoice --------------------------------------------------


def test_receipt_lines_name_a_remainder_and_a_part_payment_in_the_customers_language() -> None:
    whole = invoice("20260001", date(2026, 11, 22), total=50_000)
    rest = invoice("20260002", date(2026, 11, 23), total=80_000)
    part = invoice("20260003", date(2026, 11, 24), total=90_000)
    lines = order_lines(
        [whole, rest, part],
        {whole.id: 50_000, rest.id: 30_000, part.id: 20_000},
        open_amounts={whole.id: 50_000, rest.id: 30_000, part.id: 90_000},
        language="nb",
    )
    assert [(line.name, line.total) for line in lines] == [
        ("20260001: Work", 50_000),
        ("Faktura 20260002, restbeløp", 30_000),
        ("Faktura 20260003, delbetaling", 20_000),
    ]
    assert sum(line.total for line in lines) == 100_000
