"""An HTTP `Retry-After` value (RFC 9110, section 10.2.3): a number of seconds, or an HTTP
date (always GMT; a date without a zone is read as GMT too)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from payrequest.kit.clock import utcnow


def seconds_to_wait(value: str | None, *, now: datetime | None = None) -> float | None:
    """How many seconds `value` asks to wait, never below 0; None if it says nothing usable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or utcnow())).total_seconds())
