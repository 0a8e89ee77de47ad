"""Payment request states and the forward-only moves between them
(docs/vipps.md#how-vipps-signals-move-our-states).

sending --create ok--> pending --authorized--> authorized --capture ok--> paid --> refunded
   |                     |-- rejected / expired / cancelled          |
   '--create refused--> failed                                       '--capture refused--> failed
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    sending = "sending"
    pending = "pending"
    authorized = "authorized"
    paid = "paid"
    refunded = "refunded"
    failed = "failed"
    rejected = "rejected"
    expired = "expired"
    cancelled = "cancelled"


# Which states each state may move to. Anything not listed is refused (or ignored when late).
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.sending: frozenset(
        {
            Status.pending,
            Status.failed,
            Status.authorized,
            Status.rejected,
            Status.expired,
            Status.cancelled,
        }
    ),
    Status.pending: frozenset(
        {Status.authorized, Status.rejected, Status.expired, Status.cancelled, Status.failed}
    ),
    Status.authorized: frozenset({Status.paid, Status.failed, Status.cancelled}),
    Status.paid: frozenset({Status.refunded}),
    Status.refunded: frozenset(),
    Status.failed: frozenset(),
    Status.rejected: frozenset(),
    Status.expired: frozenset(),
    Status.cancelled: frozenset(),
}

# Requests in these states hold their invoices: no second request may include them.
ACTIVE: frozenset[Status] = frozenset({Status.sending, Status.pending, Status.authorized})
# A retry is offered from these.
RETRYABLE: frozenset[Status] = frozenset(
    {Status.failed, Status.rejected, Status.expired, Status.cancelled}
)
# Nothing more to learn from the provider: the poller leaves these alone. (Paid may still be
# refunded, but only by our own action.)
FINAL: frozenset[Status] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt) | {Status.paid}


def can_move(current: Status, target: Status) -> bool:
    return target in TRANSITIONS[current]


ORIGINS = ("staff", "portal", "bulk", "api", "automation")
USER_FLOWS = ("push", "qr", "redirect")
