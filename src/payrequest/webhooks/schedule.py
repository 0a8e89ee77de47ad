"""When a failed delivery is tried again, and when it is given up (docs/webhooks.md,
"Retries"). Pure: no I/O.

After the n-th failed try the next one is due after a delay drawn between half and all of
`min(CAP, BASE * 2 ** (n - 1))` (exponential backoff with jitter: deliveries that failed together,
during a receiver's outage, come back spread out, and none comes back much sooner than its
step). Tries go on for `WINDOW` after the delivery was made; a try that would fall later is
not made, and the delivery is given up.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

BASE = timedelta(minutes=1)
CAP = timedelta(hours=12)
WINDOW = timedelta(days=3)
_MAX_EXPONENT = 30  # 2 ** 30 minutes is far past the cap

Uniform = Callable[[float, float], float]


def ceiling(attempts: int) -> timedelta:
    """The longest wait after `attempts` failed tries (1 after the first)."""
    exponent = min(max(attempts, 1) - 1, _MAX_EXPONENT)
    return min(CAP, BASE * (1 << exponent))


def next_attempt(
    *,
    created_at: datetime,
    attempts: int,
    now: datetime,
    uniform: Uniform = random.uniform,
) -> datetime | None:
    """When to try again after `attempts` failed tries, the last one `now`; None: give up."""
    step = ceiling(attempts).total_seconds()
    delay = timedelta(seconds=min(step, max(step / 2, uniform(step / 2, step))))
    due = now + delay
    return due if due <= created_at + WINDOW else None
