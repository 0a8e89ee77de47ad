"""Turning HTTP failures into SmsError, the same way for every HTTP gateway."""

from __future__ import annotations

import httpx

from payrequest.notify.sms.base import SmsError

RETRYABLE_STATUSES = frozenset({408, 425, 429})

# Failures before the request left us: the message certainly was not sent.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def transport_error(gateway: str, exc: httpx.HTTPError) -> SmsError:
    """A network problem or timeout: retryable; `maybe_sent` unless we never connected."""
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return SmsError(f"{gateway}: bad gateway URL ({exc})", False)
    maybe_sent = not isinstance(exc, _NOT_SENT)
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    detail = str(exc) or type(exc).__name__
    return SmsError(f"{gateway}: the request {kind} ({detail})", True, maybe_sent=maybe_sent)


def status_error(gateway: str, response: httpx.Response, detail: str) -> SmsError:
    """An HTTP error answer: 5xx, 408, 425 and 429 are retryable, other 4xx are not."""
    status = response.status_code
    retryable = status >= 500 or status in RETRYABLE_STATUSES
    return SmsError(
        f"{gateway} refused the SMS (HTTP {status}): {detail}",
        retryable,
        retry_after=_retry_after(response),
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date; rare enough to let the caller's backoff decide
