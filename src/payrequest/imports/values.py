"""The values of an imported row's cells, as docs/csv.md describes them. Each parser raises
`ValidationFailed` naming the column (`field`) with a message a person reads in their language.

Numbers: a decimal comma or point (`1234,50`, `1234.50`); spaces as thousands separators
(`1 234,50`); with both a point and a comma, the last one is the decimal mark (`1.234,50`,
`1,234.50`). A lone point or comma is always the decimal mark, never a thousands separator:
`1.234` is one and a bit. Amounts become minor units through kit.money (never a float).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from payrequest.errors import ValidationFailed
from payrequest.kit.money import Money

_SPACES = re.compile(r"[ \u00a0\u202f\u2009']")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_ISO_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_NORDIC_DAY = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
BASIS_POINTS_PER_PERCENT = 100


def empty(column: str) -> ValidationFailed:
    return ValidationFailed("%(column)s is empty", field=column, column=column)


def required(text: str, column: str) -> str:
    if not text:
        raise empty(column)
    return text


def limited(text: str, column: str, longest: int) -> str:
    if len(text) > longest:
        raise ValidationFailed(
            "%(column)s can be at most %(limit)s characters",
            field=column,
            column=column,
            limit=longest,
        )
    return text


def decimal(text: str, column: str) -> Decimal:
    """`1 234,50` -> Decimal("1234.50")."""
    raw = _SPACES.sub("", text).replace("\u2212", "-")
    if "," in raw and "." in raw:
        group = "." if raw.rindex(",") > raw.rindex(".") else ","
        raw = raw.replace(group, "")
    raw = raw.replace(",", ".")
    if not _NUMBER.match(raw):
        raise ValidationFailed(
            "%(column)s: “%(text)s” is not a number", field=column, column=column, text=text
        )
    try:
        return Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern lets only numbers through
        raise ValidationFailed(
            "%(column)s: “%(text)s” is not a number", field=column, column=column, text=text
        ) from None


def amount(text: str, column: str, currency: str) -> int:
    """Major units as written (`1 234,50`) in minor units of `currency` (123450)."""
    value = decimal(required(text, column), column)
    try:
        return Money.from_decimal(value, currency).amount
    except ValidationFailed:
        raise ValidationFailed(
            "%(column)s: “%(text)s” has more decimals than %(currency)s has",
            field=column,
            column=column,
            text=text,
            currency=currency,
        ) from None


def percent_basis_points(text: str, column: str) -> int:
    """A VAT rate in percent (`25`, `12,5`, `15 %`) in basis points (2500, 1250, 1500)."""
    value = decimal(text.removesuffix("%").strip(), column)
    scaled = value * BASIS_POINTS_PER_PERCENT
    if scaled != scaled.to_integral_value():
        raise ValidationFailed(
            "%(column)s: “%(text)s” has more than two decimals",
            field=column,
            column=column,
            text=text,
        )
    return int(scaled)


def day(text: str, column: str) -> date:
    """`2027-01-31` or `31.01.2027` (also `31.1.2027`)."""
    iso = _ISO_DAY.match(text)
    nordic = _NORDIC_DAY.match(text)
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if nordic:
            return date(int(nordic[3]), int(nordic[2]), int(nordic[1]))
    except ValueError:
        pass
    raise ValidationFailed(
        "%(column)s: “%(text)s” is not a date (YYYY-MM-DD or DD.MM.YYYY)",
        field=column,
        column=column,
        text=text,
    )
