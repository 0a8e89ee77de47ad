"""The SDK's exceptions as neutral provider errors (docs/stripe.md#calls).

The SDK chooses its exception by HTTP status; this keeps Stripe's request id (`trace_id`) and
error code on every error, says whether the same call may be sent again, and swaps Stripe's
developer-facing message for a sentence staff can act on where there is one.
"""

from __future__ import annotations

from datetime import timedelta

import stripe

from payrequest.kit import retry_after as kit_retry_after
from payrequest.providers.base import (
    Declined,
    OutcomeUnknown,
    PaymentNotFound,
    ProviderError,
    TryAgainLater,
)
from payrequest.providers.stripe.mapping import (
    DECLINE_MESSAGES,
    DECLINED,
    KEY_NOT_ALLOWED,
    KEY_REFUSED,
    STAFF_MESSAGES,
)

# The wait after a 429 that names none: Stripe asks for backoff, not for a given time.
DEFAULT_WAIT = timedelta(seconds=2)


def neutral(exc: stripe.StripeError, *, effect_unknown: bool) -> ProviderError:
    """The neutral error for one failed call. `effect_unknown`: the call changes something
    (a POST), so an unanswered one is OutcomeUnknown rather than a plain retryable error."""
    status, code, trace = exc.http_status, error_code(exc), exc.request_id
    detail = _detail(exc)
    if isinstance(exc, stripe.APIConnectionError):
        if effect_unknown:
            return OutcomeUnknown(f"Stripe did not answer: {detail}")
        return ProviderError("Stripe did not answer", retryable=True, detail=detail)
    if isinstance(exc, stripe.RateLimitError):
        return TryAgainLater(
            "Stripe asks us to slow down",
            retry_after=retry_after(exc) or DEFAULT_WAIT,
            status=status,
            code=code,
            trace_id=trace,
            detail=detail,
        )
    if isinstance(exc, stripe.CardError):
        reason = _decline_reason(exc)
        return Declined(
            DECLINE_MESSAGES.get(reason, DECLINED),
            reason=reason,
            status=status,
            code=code,
            trace_id=trace,
            detail=detail,
        )
    kind: type[ProviderError] = ProviderError
    message = STAFF_MESSAGES.get(code or "", detail)
    retryable = False
    if isinstance(exc, stripe.AuthenticationError):
        message = KEY_REFUSED
    elif isinstance(exc, stripe.PermissionError):
        message = KEY_NOT_ALLOWED
    elif isinstance(exc, stripe.InvalidRequestError) and code == "resource_missing":
        kind = PaymentNotFound
    elif isinstance(exc, stripe.APIError):
        retryable = status is None or status >= 500 or status == 409
    return kind(
        message, status=status, code=code, trace_id=trace, retryable=retryable, detail=detail
    )


def retry_after(exc: stripe.StripeError) -> timedelta | None:
    """The wait the answer asks for (`Retry-After`: seconds or an HTTP date), if it names one."""
    value = (exc.headers or {}).get("Retry-After") or (exc.headers or {}).get("retry-after")
    seconds = kit_retry_after.seconds_to_wait(value)
    return None if seconds is None else timedelta(seconds=seconds)


def error_code(exc: stripe.StripeError) -> str | None:
    """Stripe's error code: the SDK sets `code` on some exceptions only (not on a 429's)."""
    return exc.code or (exc.error.code if exc.error is not None else None)


def _decline_reason(exc: stripe.CardError) -> str:
    error = exc.error
    decline_code = getattr(error, "decline_code", None) if error is not None else None
    return str(decline_code or exc.code or "card_declined")


def _detail(exc: stripe.StripeError) -> str:
    """Stripe's own words, without the SDK's "Request req_…:" prefix (the id is `trace_id`)."""
    return str(exc.user_message or exc.__class__.__name__)
