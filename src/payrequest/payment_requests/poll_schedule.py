"""When the poller asks the provider about a request again (pure: no I/O).

Webhooks are the provider's own "this payment changed" signal and are applied the moment they
arrive; a provider need not offer a query for payments changed since a time, so the poller is
the safety net for webhooks that never come (docs/providers.md, docs/vipps.md#rate-limits-and-
polling). It polls quickly while the customer is most likely approving, then backs off:

- the first poll 5 s after creation (`service.FIRST_POLL_AFTER`);
- every 3 s until the request is 5 minutes old (gentle on the provider through a bulk send of
  hundreds of requests, quick enough for the customer who just approved);
- then an interval that doubles every minute, up to one a minute;
- an authorized request once a minute: its capture job moves it on, the poll only notices a
  capture whose answer was lost.

A sick provider lengthens these (`breaker.ProviderBreaker`), never shortens them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from payrequest.payment_requests.state import Status

FAST_INTERVAL = timedelta(seconds=3)
FAST_WINDOW = timedelta(minutes=5)
MAX_INTERVAL = timedelta(seconds=60)


def next_poll_delay(*, status: str, created_at: datetime, now: datetime) -> timedelta:
    """How long after a poll at `now` to poll a request created at `created_at` again."""
    if status == Status.authorized:
        return MAX_INTERVAL
    late = (now - created_at - FAST_WINDOW).total_seconds()
    if late <= 0:
        return FAST_INTERVAL
    doublings = min(late / 60.0, 8.0)  # 2**8 * 3 s is far past the cap already
    delay: timedelta = min(FAST_INTERVAL * float(2.0**doublings), MAX_INTERVAL)
    return delay
