"""Provider signals -> our status: forward-only paths, snapshots and events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payrequest.kit.money import Money
from payrequest.payment_requests.signals import from_event, from_snapshot, path
from payrequest.payment_requests.state import TRANSITIONS, Status
from payrequest.providers.base import EventName, PaymentSnapshot, ProviderEvent, ProviderState

AMOUNT = 49900
statuses = st.sampled_from(list(Status))


def reachable(start: Status) -> dict[Status, int]:
    """Every status reachable from `start` with its shortest distance (computed here, not
    borrowed from the code under test)."""
    distance = {start: 0}
    frontier = [start]
    while frontier:
        following = []
        for state in frontier:
            for nxt in TRANSITIONS[state]:
                if nxt not in distance:
                    distance[nxt] = distance[state] + 1
                    following.append(nxt)
        frontier = following
    del distance[start]
    return distance


# --- path ------------------------------------------------------------------------------------


@given(current=statuses, target=statuses | st.none())
def test_path_is_a_valid_forward_chain_or_empty(current: Status, target: Status | None) -> None:
    steps = path(current, target)
    ahead = reachable(current)
    if target is None or target == current or target not in ahead:
        assert steps == []
        return
    assert steps[-1] == target
    assert len(steps) == ahead[target]  # the shortest way there
    previous = current
    for step in steps:
        assert step in TRANSITIONS[previous], f"{previous} -> {step} is not a transition"
        previous = step
    assert current not in steps
    assert len(set(steps)) == len(steps)


@given(current=statuses, target=statuses)
def test_path_never_goes_back(current: Status, target: Status) -> None:
    """If the target is behind, the way back (target -> current) exists and path() is empty."""
    if current in reachable(target):
        assert path(current, target) == []


def test_path_examples() -> None:
    assert path(Status.sending, Status.paid) == [Status.authorized, Status.paid]
    assert path(Status.pending, Status.refunded) == [
        Status.authorized,
        Status.paid,
        Status.refunded,
    ]
    assert path(Status.sending, Status.pending) == [Status.pending]
    assert path(Status.authorized, Status.cancelled) == [Status.cancelled]
    assert path(Status.paid, Status.authorized) == []  # stale AUTHORIZED after capture
    assert path(Status.paid, Status.paid) == []  # repeated
    assert path(Status.paid, Status.cancelled) == []  # unreachable sideways
    assert path(Status.expired, Status.authorized) == []  # a final state stays final
    assert path(Status.rejected, Status.pending) == []
    assert path(Status.pending, None) == []


@pytest.mark.parametrize("final", [s for s, following in TRANSITIONS.items() if not following])
@pytest.mark.parametrize("target", list(Status))
def test_final_states_have_no_path_anywhere(final: Status, target: Status) -> None:
    assert path(final, target) == []


# --- from_snapshot ---------------------------------------------------------------------------


def snapshot(
    state: ProviderState = ProviderState.authorized,
    *,
    authorized: int = AMOUNT,
    captured: int = 0,
    cancelled: int = 0,
    refunded: int = 0,
) -> PaymentSnapshot:
    return PaymentSnapshot(
        reference="acme-order-0001",
        state=state,
        amount=Money(AMOUNT, "NOK"),
        authorized=authorized,
        captured=captured,
        cancelled=cancelled,
        refunded=refunded,
    )


@pytest.mark.parametrize(
    ("state", "target"),
    [
        (ProviderState.created, Status.pending),
        (ProviderState.aborted, Status.rejected),
        (ProviderState.expired, Status.expired),
        (ProviderState.terminated, Status.cancelled),
    ],
)
def test_snapshot_states_without_money(state: ProviderState, target: Status) -> None:
    outcome = from_snapshot(snapshot(state, authorized=0), amount=AMOUNT)
    assert outcome.target is target
    assert outcome.captured == 0 and outcome.refunded == 0


def test_terminated_with_cancelled_amount_is_cancelled() -> None:
    """Cancel before approval: TERMINATED, aggregate shows the full amount cancelled."""
    outcome = from_snapshot(
        snapshot(ProviderState.terminated, authorized=0, cancelled=AMOUNT), amount=AMOUNT
    )
    assert outcome.target is Status.cancelled


def test_authorized_and_nothing_else_is_authorized() -> None:
    assert from_snapshot(snapshot(), amount=AMOUNT).target is Status.authorized


def test_authorized_and_fully_captured_is_paid() -> None:
    outcome = from_snapshot(snapshot(captured=AMOUNT), amount=AMOUNT)
    assert outcome.target is Status.paid
    assert outcome.captured == AMOUNT
    assert outcome.refunded == 0


def test_partly_captured_is_still_authorized() -> None:
    outcome = from_snapshot(snapshot(captured=AMOUNT - 1), amount=AMOUNT)
    assert outcome.target is Status.authorized
    assert outcome.captured == AMOUNT - 1


def test_partly_refunded_is_still_paid() -> None:
    outcome = from_snapshot(snapshot(captured=AMOUNT, refunded=10000), amount=AMOUNT)
    assert outcome.target is Status.paid
    assert outcome.refunded == 10000


@pytest.mark.parametrize(("captured", "refunded"), [(AMOUNT, AMOUNT), (20000, 20000)])
def test_refunded_as_much_as_captured_is_refunded(captured: int, refunded: int) -> None:
    outcome = from_snapshot(snapshot(captured=captured, refunded=refunded), amount=AMOUNT)
    assert outcome.target is Status.refunded
    assert (outcome.captured, outcome.refunded) == (captured, refunded)


def test_cancelled_after_authorization_without_capture_is_cancelled() -> None:
    outcome = from_snapshot(snapshot(cancelled=AMOUNT), amount=AMOUNT)
    assert outcome.target is Status.cancelled
    assert outcome.captured == 0


def test_a_captured_payment_with_a_cancelled_rest_is_paid_not_cancelled() -> None:
    outcome = from_snapshot(snapshot(captured=AMOUNT, cancelled=1), amount=AMOUNT)
    assert outcome.target is Status.paid


def test_nothing_captured_nothing_refunded_is_not_refunded() -> None:
    """refunded >= captured holds for 0 >= 0; that alone must not mean `refunded`."""
    assert from_snapshot(snapshot(), amount=AMOUNT).target is not Status.refunded


@given(
    captured=st.integers(min_value=0, max_value=AMOUNT),
    refunded=st.integers(min_value=0, max_value=AMOUNT),
    cancelled=st.integers(min_value=0, max_value=AMOUNT),
)
def test_authorized_snapshot_rules(captured: int, refunded: int, cancelled: int) -> None:
    outcome = from_snapshot(
        snapshot(captured=captured, refunded=refunded, cancelled=cancelled), amount=AMOUNT
    )
    if 0 < captured <= refunded:
        expected = Status.refunded
    elif captured == AMOUNT:
        expected = Status.paid
    elif cancelled > 0 and captured == 0:
        expected = Status.cancelled
    else:
        expected = Status.authorized
    assert outcome.target is expected
    assert (outcome.captured, outcome.refunded) == (captured, refunded)


# --- from_event ------------------------------------------------------------------------------


def event(name: EventName, *, value: int = AMOUNT, success: bool = True) -> ProviderEvent:
    return ProviderEvent(
        reference="acme-order-0001",
        name=name,
        psp_reference="1304787731",
        amount=Money(value, "NOK"),
        occurred_at=datetime(2026, 1, 19, 16, 26, 32, tzinfo=UTC),
        success=success,
    )


@pytest.mark.parametrize(
    ("name", "target"),
    [
        (EventName.created, Status.pending),
        (EventName.authorized, Status.authorized),
        (EventName.aborted, Status.rejected),
        (EventName.expired, Status.expired),
        (EventName.terminated, Status.cancelled),
        (EventName.cancelled, Status.cancelled),
    ],
)
def test_successful_events_map_to_statuses(name: EventName, target: Status) -> None:
    outcome = from_event(event(name), amount=AMOUNT)
    assert outcome.target is target
    assert outcome.captured is None and outcome.refunded is None


@pytest.mark.parametrize("name", list(EventName))
def test_unsuccessful_events_change_nothing(name: EventName) -> None:
    outcome = from_event(event(name, success=False), amount=AMOUNT)
    assert outcome.target is None
    assert outcome.captured is None and outcome.refunded is None


def test_full_capture_event_is_paid_with_the_captured_amount() -> None:
    outcome = from_event(event(EventName.captured), amount=AMOUNT)
    assert outcome.target is Status.paid
    assert outcome.captured == AMOUNT


@pytest.mark.parametrize("value", [1, 10000, AMOUNT - 1])
def test_partial_capture_event_changes_nothing(value: int) -> None:
    outcome = from_event(event(EventName.captured, value=value), amount=AMOUNT)
    assert outcome.target is None
    assert outcome.captured is None


@pytest.mark.parametrize("value", [1, AMOUNT])
def test_refund_events_are_timeline_only(value: int) -> None:
    outcome = from_event(event(EventName.refunded, value=value), amount=AMOUNT)
    assert outcome.target is None
    assert outcome.refunded is None and outcome.captured is None


@given(current=statuses, name=st.sampled_from(list(EventName)))
def test_a_repeated_event_has_nowhere_to_go(current: Status, name: EventName) -> None:
    """Applying an event's path, then the same event again, yields an empty second path."""
    outcome = from_event(event(name), amount=AMOUNT)
    steps = path(current, outcome.target)
    after = steps[-1] if steps else current
    assert path(after, outcome.target) == []
