"""The language of the current request, and the helpers pages and handlers use with it.

The language is held in a context variable set by `use_language` / `set_language` (per
request); every helper here reads it and calls `payrequest.i18n`, where the catalogs and the
formatting live.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from payrequest import i18n as catalogs
from payrequest.errors import PayrequestError
from payrequest.i18n import BABEL_LOCALES, LANGUAGES, TIMEZONE, kept
from payrequest.kit.phone import Phone
from payrequest.kit.validation import from_pydantic
from payrequest.providers.base import ProviderError

__all__ = ["BABEL_LOCALES", "LANGUAGES", "TIMEZONE"]

_language: ContextVar[str] = ContextVar("payrequest_language", default="en")


def current_language() -> str:
    return _language.get()


@contextmanager
def use_language(language: str) -> Iterator[None]:
    token = _language.set(catalogs.known(language))
    try:
        yield
    finally:
        _language.reset(token)


def set_language(language: str) -> None:
    """For the length of one request (the context is per request)."""
    _language.set(catalogs.known(language))


def gettext(message: str) -> str:
    return catalogs.gettext(current_language(), message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return catalogs.ngettext(current_language(), singular, plural, n)


_ = gettext


def translate(message: str | None) -> str:
    """A stored message id (a failure reason, a timeline note) or kept error (`i18n.kept`) in
    the reader's language; a text that is not in the catalog comes back as it is."""
    if not message:
        return ""
    error = kept.loads(message)
    return error_text(error) if error is not None else gettext(message)


def babel_locale() -> str:
    return catalogs.babel_locale(current_language())


def money(amount: int, currency: str) -> str:
    return catalogs.money(current_language(), amount, currency)


def day(value: date | None) -> str:
    return catalogs.day(current_language(), value)


def moment(value: datetime | None) -> str:
    return catalogs.moment(current_language(), value)


def number(value: int) -> str:
    return catalogs.number(current_language(), value)


def percent(basis_points: int) -> str:
    """A rate in basis points as the reader writes percentages: `25 %`, `12,5 %`, `25%`."""
    return catalogs.percent(current_language(), basis_points)


def phone(e164: str | None) -> str:
    return Phone(e164=e164, region="").pretty() if e164 else "—"


def render(template: str, params: Mapping[str, Any] | None = None) -> str:
    return catalogs.render(current_language(), template, params)


def error_text(error: PayrequestError) -> str:
    """An expected error as the reader should see it: translated, parameters formatted."""
    return catalogs.error_text(current_language(), error)


def problem(exc: Exception, labels: Mapping[str, str] | None = None) -> str:
    """Any error a handler shows a person, in their language: our own errors, pydantic's
    (the field named by `labels`, English msgids), and a provider's refusal (its message
    is a message id where the provider adapter knows one)."""
    if isinstance(exc, PayrequestError):
        return error_text(exc)
    if isinstance(exc, ValidationError):
        return error_text(from_pydantic(exc, labels or {}))
    if isinstance(exc, ProviderError):
        return translate(exc.message)
    return str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
