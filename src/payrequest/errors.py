"""The errors the domain raises on purpose: a machine code, and a message for a person.

The message is an English template (`"Invoice %(number)s is not open"`) with its parameters
kept apart (`number="10023"`). The template is the gettext message id: the web layer looks it
up in the reader's language and formats the parameters there (money as money, dates as
dates; see `payrequest.i18n.render`), so a Danish customer reads Danish. `str(error)` and
`error.message` are the English text, for logs and the CLI.

Never build the template with an f-string: the template must be a literal so that
`make translations` finds it (babel.cfg lists these class names as keywords), and
tests/unit/test_error_messages.py checks every one has a Norwegian and a Danish translation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any


def N_(message: str) -> str:
    """Mark a message for translation without translating it now (it is stored or raised and
    translated where it is shown)."""
    return message


class Msg(str):
    """A parameter that is itself a message, translated with the rest: `field=Msg(N_("Name"))`."""

    __slots__ = ()


def plain(value: Any) -> str:
    """A parameter in English, without a locale: money via its own `format`, dates ISO."""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(plain(item) for item in value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, PayrequestError):
        return value.message
    formatter = getattr(value, "format", None)
    if callable(formatter):  # Money (kit.money) formats itself
        return str(formatter("en_GB"))
    return str(value)


def render_plain(template: str, params: Mapping[str, Any]) -> str:
    """The English text of a template and its parameters (`%%` is a literal percent sign)."""
    if "%" not in template:
        return template
    return template % {key: plain(value) for key, value in params.items()}


class PayrequestError(Exception):
    """Base of every expected error.

    `template` is an English message with `%(name)s` placeholders, `params` their values,
    `code` a stable machine-readable name (for the API and for tests), `field` the input it
    is about, if any.
    """

    status_code = 400
    code = "invalid"

    def __init__(
        self, template: str, /, *, field: str | None = None, code: str | None = None, **params: Any
    ) -> None:
        self.template = template
        self.params: dict[str, Any] = params
        self.field = field
        if code is not None:
            self.code = code
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return render_plain(self.template, self.params)

    @classmethod
    def restored(
        cls, template: str, *, field: str | None, code: str, params: Mapping[str, Any]
    ) -> PayrequestError:
        """An error read back from where it was kept (an import's report): its template was a
        literal where it was first raised, and is translated when shown, like any other."""
        return cls(template, field=field, code=code, **params)


class ValidationFailed(PayrequestError):
    """Input that breaks a rule; nothing was written."""

    status_code = 422
    code = "validation_failed"


class NotFound(PayrequestError):
    status_code = 404
    code = "not_found"


class Conflict(PayrequestError):
    """The input is well-formed but clashes with what is stored (duplicate number, busy invoice)."""

    status_code = 409
    code = "conflict"


class CurrencyMismatch(ValidationFailed):
    """Two amounts in different currencies were combined."""

    code = "currency_mismatch"
