"""What a provider signal means for our request: pure decisions, no I/O.

A signal is either a snapshot (what a poll or an operation returned) or one event (a webhook,
an event-log entry). Both map to a target status; the path there follows TRANSITIONS, so a
stale or repeated signal finds no path and changes nothing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from payrequest.payment_requests.state import TRANSITIONS, Status
from payrequest.providers.base import EventName, PaymentSnapshot, ProviderEvent, ProviderState

# Provider state -> our status (AUTHORIZED is refined by the aggregate amounts below).
STATE_TARGETS: dict[ProviderState, Status] = {
    ProviderState.created: Status.pending,
    ProviderState.authorized: Status.authorized,
    ProviderState.aborted: Status.rejected,
    ProviderState.expired: Status.expired,
    ProviderState.terminated: Status.cancelled,
}

# Successful event -> our status; None: recorded on the timeline only.
EVENT_TARGETS: dict[EventName, Status | None] = {
    EventName.created: Status.pending,
    EventName.authorized: Status.authorized,
    EventName.aborted: Status.rejected,
    EventName.expired: Status.expired,
    EventName.terminated: Status.cancelled,
    EventName.cancelled: Status.cancelled,
    EventName.captured: Status.paid,  # only when the whole amount is captured, see below
    EventName.refunded: None,  # refunds are applied from the refund's own snapshot
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """Where the request should go, and the amounts the provider now reports."""

    target: Status | None
    captured: int | None = None
    refunded: int | None = None
    # The provider has the payment: a request still `sending` was created there, so it passes
    # through `pending` (and announces it) whatever signal arrives first.
    confirmed: bool = False


def from_snapshot(snapshot: PaymentSnapshot, *, amount: int) -> Outcome:
    target = STATE_TARGETS[snapshot.state]
    if snapshot.state is ProviderState.authorized:
        if snapshot.captured > 0 and snapshot.refunded >= snapshot.captured:
            target = Status.refunded
        elif snapshot.captured >= amount:
            target = Status.paid
        elif snapshot.cancelled > 0 and snapshot.captured == 0:
            target = Status.cancelled
    return Outcome(target, captured=snapshot.captured, refunded=snapshot.refunded, confirmed=True)


def from_event(event: ProviderEvent, *, amount: int) -> Outcome:
    if not event.success:
        return Outcome(None, confirmed=True)
    target = EVENT_TARGETS[event.name]
    if event.name is EventName.captured:
        if event.amount.amount < amount:
            return Outcome(None, confirmed=True)
        return Outcome(Status.paid, captured=event.amount.amount, confirmed=True)
    return Outcome(target, confirmed=True)


def steps(current: Status, outcome: Outcome) -> list[Status]:
    """The statuses a request passes through for this outcome, in order."""
    if outcome.confirmed and current is Status.sending:
        return [Status.pending, *path(Status.pending, outcome.target)]
    return path(current, outcome.target)


def path(current: Status, target: Status | None) -> list[Status]:
    """The states to pass through from `current` to `target`; empty if not forward."""
    if target is None or target == current:
        return []
    previous: dict[Status, Status] = {}
    queue = deque([current])
    while queue:
        state = queue.popleft()
        for nxt in sorted(TRANSITIONS[state]):
            if nxt in previous or nxt == current:
                continue
            previous[nxt] = state
            if nxt == target:
                steps = [nxt]
                while previous[steps[-1]] != current:
                    steps.append(previous[steps[-1]])
                return list(reversed(steps))
            queue.append(nxt)
    return []
