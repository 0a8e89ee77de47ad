"""Faults the fake provider injects on request (`FakeProvider.fail_next`).

Each kind fails a call the way a real provider's call fails, with the neutral error and the
same consequence for the payment:

- `server_error`: a 5xx before anything happened; retryable, the call had no effect.
- `rate_limited`: a 429 before anything happened: `TryAgainLater` with the wait.
- `outcome_unknown`: the call *took effect* and then its answer was lost (a timeout):
  `OutcomeUnknown`. The same call with the same idempotency key gives the answer it would
  have had.
- `declined`: the payer's bank or card said no: `Declined` with the reason; nothing happened.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from payrequest.providers.base import Declined, ProviderError, TryAgainLater


class FaultKind(StrEnum):
    server_error = "server_error"
    rate_limited = "rate_limited"
    outcome_unknown = "outcome_unknown"
    declined = "declined"


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    operation: str | None = None  # only this call (e.g. "capture"); None: the next call
    reason: str = "card_declined"  # for `declined`
    retry_after: timedelta = timedelta(seconds=1)  # for `rate_limited`

    def applies_to(self, operation: str) -> bool:
        return self.operation is None or self.operation == operation

    def before(self, operation: str) -> ProviderError:
        """The error of a fault that strikes before the call has any effect."""
        if self.kind is FaultKind.server_error:
            return ProviderError(f"{operation}: injected server error", status=503, retryable=True)
        if self.kind is FaultKind.rate_limited:
            return TryAgainLater(
                f"{operation}: injected rate limit", retry_after=self.retry_after, status=429
            )
        return Declined(f"{operation}: declined", reason=self.reason, status=402)


class Faults:
    """A queue of faults: each strikes once, at the first call it applies to."""

    def __init__(self) -> None:
        self.queue: deque[Fault] = deque()

    def add(self, fault: Fault, times: int) -> None:
        if times < 1:
            raise ValueError("times must be at least 1")
        self.queue.extend([fault] * times)

    def clear(self) -> None:
        self.queue.clear()

    def take(self, operation: str) -> Fault | None:
        for fault in self.queue:
            if fault.applies_to(operation):
                self.queue.remove(fault)
                return fault
        return None
