"""The error every notify gateway raises: a message and whether trying again may help."""

from __future__ import annotations


class NotifyError(Exception):
    """A message could not be delivered.

    `retryable`: the same call (same idempotency key) may succeed later — a network problem,
    a timeout, an HTTP 5xx/429 or an SMTP 4xx reply. Not retryable: the input or the
    configuration is wrong (bad number, refused credentials, SMTP 5xx), so a retry fails again.
    `maybe_sent`: the request reached the gateway but no answer came back, so the message may
    have gone out; a caller that must not send twice should check before retrying.
    `retry_after`: seconds the gateway asked us to wait, when it said so.
    """

    def __init__(
        self,
        message: str,
        retryable: bool,
        *,
        maybe_sent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.maybe_sent = maybe_sent
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, retryable={self.retryable}, "
            f"maybe_sent={self.maybe_sent})"
        )
