"""The one error type the domain raises: a message a person can act on, and an HTTP status."""

from __future__ import annotations


class PayrequestError(Exception):
    """Base of every expected error. `message` is safe to show to the user."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(PayrequestError):
    """Input that breaks a rule; nothing was written."""

    status_code = 422


class NotFound(PayrequestError):
    status_code = 404


class Conflict(PayrequestError):
    """The input is well-formed but clashes with what is stored (duplicate number, busy invoice)."""

    status_code = 409


class CurrencyMismatch(ValidationFailed):
    """Two amounts in different currencies were combined."""
