"""Retry delays: exponential backoff with full jitter (pure, no I/O).

    delay(attempt) = uniform(0, min(cap, base * 2 ** (attempt - 1)))

`attempt` counts runs so far (1 after the first failure). Full jitter spreads retries of many
jobs that failed together (a provider outage) instead of sending them back in waves.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

_MAX_EXPONENT = 62  # beyond this 2 ** n only overflows float math; the cap applies long before


@dataclass(frozen=True)
class Backoff:
    base: timedelta = timedelta(seconds=1)
    cap: timedelta = timedelta(minutes=10)
    # uniform(a, b); injectable so tests can pin the jitter
    uniform: Callable[[float, float], float] = field(default=random.uniform, compare=False)

    def __post_init__(self) -> None:
        if self.base <= timedelta(0) or self.cap < self.base:
            raise ValueError("backoff needs 0 < base <= cap")

    def ceiling(self, attempt: int) -> timedelta:
        """The largest delay after `attempt` runs (the jitter picks between 0 and this)."""
        exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
        seconds = min(self.cap.total_seconds(), self.base.total_seconds() * 2.0**exponent)
        return timedelta(seconds=seconds)

    def delay(self, attempt: int) -> timedelta:
        ceiling = self.ceiling(attempt).total_seconds()
        return timedelta(seconds=min(ceiling, max(0.0, self.uniform(0.0, ceiling))))
