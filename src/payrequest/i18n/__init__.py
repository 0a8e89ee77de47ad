"""Languages (Norwegian bokmål, Danish, English), their message catalogs, and formatting.

Every function takes the language explicitly, so that the domain can write a text in the
customer's language (a payment description, an SMS) and the web layer in the reader's
(`payrequest.web.i18n` keeps the language of the current request and calls these).

Catalogs are `locale/<lang>.po`, compiled in memory on first use; English is the msgid
itself. Money and dates are formatted by Babel (CLDR), never by hand.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations, Translations

from payrequest.errors import Msg, PayrequestError
from payrequest.kit.money import Money

LANGUAGES = {"nb": "Norsk bokmål", "da": "Dansk", "en": "English"}
BABEL_LOCALES = {"nb": "nb_NO", "da": "da_DK", "en": "en_GB"}
FALLBACK = "en"
LOCALE_DIR = Path(__file__).parent / "locale"
TIMEZONE = ZoneInfo("Europe/Oslo")  # Nordic business hours; Copenhagen shares the offset


def known(language: str | None) -> str:
    """The language if we have it, else English."""
    return language if language in LANGUAGES else FALLBACK


@cache
def translations(language: str) -> NullTranslations:
    path = LOCALE_DIR / f"{language}.po"
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=BABEL_LOCALES[language])
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


def gettext(language: str, message: str) -> str:
    return str(translations(known(language)).gettext(message))


def ngettext(language: str, singular: str, plural: str, n: int) -> str:
    return str(translations(known(language)).ngettext(singular, plural, n))


def babel_locale(language: str) -> str:
    return BABEL_LOCALES[known(language)]


def money(language: str, amount: int, currency: str) -> str:
    return Money(amount, currency).format(babel_locale(language))


def percent(language: str, basis_points: int) -> str:
    """A rate in basis points (2500 = 25 %), written the language's way."""
    share = Decimal(basis_points) / 10_000
    return str(format_percent(share, locale=babel_locale(language), decimal_quantization=False))


def number(language: str, value: int) -> str:
    """A count written the language's way (`12 345` in nb and da, `12,345` in en)."""
    return str(format_decimal(value, locale=babel_locale(language)))


def day(language: str, value: dt.date | None) -> str:
    return "" if value is None else _day(value, babel_locale(language))


@lru_cache(maxsize=4096)
def _day(value: dt.date, locale: str) -> str:
    return str(format_date(value, "medium", locale=locale))


def moment(language: str, value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return str(format_datetime(value, "short", tzinfo=TIMEZONE, locale=babel_locale(language)))


def duration(language: str, value: dt.timedelta) -> str:
    """`3 hours`, `2 days` in the language (Babel rounds to the largest sensible unit)."""
    return str(format_timedelta(value, locale=babel_locale(language), threshold=1.0))


def value(language: str, item: Any) -> str:
    """One parameter of a message, written the way the language writes it."""
    if isinstance(item, Msg):
        return gettext(language, item)
    if isinstance(item, str):
        return item
    if isinstance(item, PayrequestError):
        return error_text(language, item)
    if isinstance(item, Money):
        return item.format(babel_locale(language))
    if isinstance(item, dt.datetime):
        return moment(language, item)
    if isinstance(item, dt.date):
        return day(language, item)
    if isinstance(item, dt.timedelta):
        return duration(language, item)
    if isinstance(item, list | tuple | set | frozenset):
        return ", ".join(value(language, part) for part in item)
    return str(item)


def render(language: str, template: str, params: Mapping[str, Any] | None = None) -> str:
    """A message template in the language, its parameters formatted there."""
    text = gettext(language, template)
    if "%" not in text:
        return text
    return text % {key: value(language, item) for key, item in (params or {}).items()}


def error_text(language: str, error: PayrequestError) -> str:
    """What a person reads for an expected error, in their language."""
    return render(language, error.template, error.params)
