"""A small circuit breaker for the poller: a provider that keeps failing is asked less often.

One per worker process, shared by all its polls. After `threshold` polls in a row that got no
usable answer (a timeout, a 5xx, no connection), the provider counts as sick: every further
failure doubles the wait before a request is polled again (from `base` up to `cap`), and the
dispatcher hands out one poll at a time (a probe) instead of a batch. The first answer resets
it. Captures, cancels and refunds do not consult it: they have lanes of their own and their
jobs' backoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass
class ProviderBreaker:
    threshold: int = 3
    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(seconds=60)
    failures: int = 0  # polls in a row without an answer

    @property
    def sick(self) -> bool:
        return self.failures >= self.threshold

    def failed(self) -> None:
        self.failures += 1

    def answered(self) -> None:
        self.failures = 0

    def wait(self) -> timedelta:
        """The least time before a request is polled again (zero while healthy)."""
        if not self.sick:
            return timedelta(0)
        doublings = min(self.failures - self.threshold, 16)
        wait: timedelta = min(self.base * float(2**doublings), self.cap)
        return wait
