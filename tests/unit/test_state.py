from __future__ import annotations

from payrequest.payment_requests.state import ACTIVE, FINAL, RETRYABLE, TRANSITIONS, Status


def _reachable(start: Status) -> set[Status]:
    seen: set[Status] = set()
    todo = [start]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_states_only_move_forward() -> None:
    for status in Status:
        assert status not in _reachable(status), f"{status} can come back to itself"


def test_every_state_is_reachable_from_sending() -> None:
    assert _reachable(Status.sending) | {Status.sending} == set(Status)


def test_groups_are_consistent() -> None:
    assert not ACTIVE & FINAL
    assert RETRYABLE <= FINAL
    assert Status.paid in FINAL and Status.refunded in FINAL
    assert set(Status) == ACTIVE | FINAL
