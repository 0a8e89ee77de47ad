"""Languages of the pages (Norwegian bokmål, Danish, English) and locale-aware formatting.

Messages live in `web/locale/<lang>.po` and are compiled in memory at start-up, so no
generated file is kept in the repository. The language of a request is held in a context
variable set by `use_language`, which every template helper reads.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from payrequest.kit.money import Money
from payrequest.kit.phone import Phone

LANGUAGES = {"nb": "Norsk bokmål", "da": "Dansk", "en": "English"}
BABEL_LOCALES = {"nb": "nb_NO", "da": "da_DK", "en": "en_GB"}
LOCALE_DIR = Path(__file__).parent / "locale"
TIMEZONE = ZoneInfo("Europe/Oslo")  # Nordic business hours; Copenhagen shares the offset

_language: ContextVar[str] = ContextVar("payrequest_language", default="en")


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


def current_language() -> str:
    return _language.get()


@contextmanager
def use_language(language: str) -> Iterator[None]:
    token = _language.set(language if language in LANGUAGES else "en")
    try:
        yield
    finally:
        _language.reset(token)


def set_language(language: str) -> None:
    """For the length of one request (the context is per request)."""
    _language.set(language if language in LANGUAGES else "en")


def gettext(message: str) -> str:
    return str(translations(current_language()).gettext(message))


def ngettext(singular: str, plural: str, n: int) -> str:
    return str(translations(current_language()).ngettext(singular, plural, n))


_ = gettext


def babel_locale() -> str:
    return BABEL_LOCALES[current_language()]


def money(amount: int, currency: str) -> str:
    return Money(amount, currency).format(babel_locale())


def day(value: date | None) -> str:
    return "" if value is None else _day(value, babel_locale())


@lru_cache(maxsize=4096)
def _day(value: date, locale: str) -> str:
    return str(format_date(value, "medium", locale=locale))


def moment(value: datetime | None) -> str:
    if value is None:
        return ""
    return str(format_datetime(value, "short", tzinfo=TIMEZONE, locale=babel_locale()))


def phone(e164: str | None) -> str:
    return Phone(e164=e164, region="").pretty() if e164 else "—"
