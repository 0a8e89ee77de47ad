"""The poller's schedule and its circuit breaker (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from payrequest.payment_requests.breaker import ProviderBreaker
from payrequest.payment_requests.poll_schedule import next_poll_delay

CREATED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def delay_at(age: timedelta, status: str = "pending") -> float:
    return next_poll_delay(status=status, created_at=CREATED, now=CREATED + age).total_seconds()


def test_polls_every_few_seconds_while_the_customer_is_likely_approving() -> None:
    # A request approved a minute after creation, all webhooks lost, shows paid within 3 s of
    # the approval (the earlier schedule had grown to 32-60 s by then).
    for seconds in (5, 30, 60, 90, 180, 299):
        assert delay_at(timedelta(seconds=seconds)) == 3.0


def test_then_backs_off_to_once_a_minute() -> None:
    delays = [delay_at(timedelta(minutes=5, seconds=s)) for s in (60, 120, 180, 240, 300)]
    assert delays == [6.0, 12.0, 24.0, 48.0, 60.0]
    assert delay_at(timedelta(hours=20)) == 60.0


def test_an_authorized_request_is_left_to_its_capture_job() -> None:
    assert delay_at(timedelta(seconds=20), status="authorized") == 60.0


def test_the_breaker_opens_after_failures_in_a_row_and_one_answer_closes_it() -> None:
    breaker = ProviderBreaker(threshold=3)
    for _ in range(2):
        breaker.failed()
    assert not breaker.sick and breaker.wait() == timedelta(0)
    waits = []
    for _ in range(6):
        breaker.failed()
        waits.append(breaker.wait().total_seconds())
    assert breaker.sick
    assert waits == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]
    breaker.answered()
    assert not breaker.sick and breaker.wait() == timedelta(0)
