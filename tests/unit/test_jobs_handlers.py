"""The job handlers, periodic slots, worker settings and error summaries (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.jobs.context import current_job
from payrequest.jobs.handlers import (
    DEFAULT_TIMEOUT,
    PERIODIC_MAX_ATTEMPTS,
    JobHandlers,
    UnknownJobKind,
)
from payrequest.jobs.runner import Worker, error_summary


async def handler(session: AsyncSession, payload: dict[str, Any]) -> None:
    return None


def test_decorators_register_and_return_the_handler() -> None:
    handlers = JobHandlers()
    decorated = handlers.job("capture", max_attempts=50, timeout=timedelta(seconds=20))(handler)
    polled = handlers.periodic("poll", every=timedelta(seconds=5))(handler)
    assert decorated is handler and polled is handler
    assert handlers.kinds == ["capture", "poll"]
    capture = handlers.spec("capture")
    assert (capture.max_attempts, capture.timeout) == (50, timedelta(seconds=20))
    poll = handlers.spec("poll")
    assert (poll.max_attempts, poll.timeout) == (PERIODIC_MAX_ATTEMPTS, DEFAULT_TIMEOUT)
    assert [spec.kind for spec in handlers.periodic_specs] == ["poll"]
    assert "poll" in handlers and "other" not in handlers and len(handlers) == 2


def test_registrations_are_checked() -> None:
    handlers = JobHandlers()
    handlers.job("capture")(handler)
    with pytest.raises(ValueError, match="already registered"):
        handlers.job("capture")(handler)
    with pytest.raises(ValueError, match="max_attempts"):
        handlers.job("x", max_attempts=0)(handler)
    with pytest.raises(ValueError, match="timeout"):
        handlers.job("x", timeout=timedelta(0))(handler)
    with pytest.raises(ValueError, match="characters"):
        handlers.job("x" * 65)(handler)
    with pytest.raises(ValueError, match="once a second"):
        handlers.periodic("fast", every=timedelta(milliseconds=10))
    with pytest.raises(UnknownJobKind):
        handlers.spec("missing")


def test_registries_are_separate() -> None:
    def payments(handlers: JobHandlers) -> None:  # as a package's `install` does
        handlers.job("capture")(handler)

    def automations(handlers: JobHandlers) -> None:
        handlers.job("send-sms")(handler)

    one, two = JobHandlers(), JobHandlers()
    payments(one)
    automations(one)
    payments(two)
    assert one.kinds == ["capture", "send-sms"]
    assert two.kinds == ["capture"]


def test_periodic_slots_are_the_same_for_every_worker() -> None:
    handlers = JobHandlers()
    handlers.periodic("poll", every=timedelta(minutes=5))(handler)
    [spec] = handlers.periodic_specs
    at = datetime(2027, 1, 1, 12, 7, 30, tzinfo=UTC)
    slot = spec.slot(at)
    assert spec.slot_start(slot) == datetime(2027, 1, 1, 12, 5, tzinfo=UTC)
    assert spec.slot(datetime(2027, 1, 1, 12, 9, 59, tzinfo=UTC)) == slot
    assert spec.slot(datetime(2027, 1, 1, 12, 10, tzinfo=UTC)) == slot + 1
    assert spec.dedupe_key(slot) == f"periodic:poll:{slot}"


def test_worker_settings_are_checked() -> None:
    handlers = JobHandlers()
    handlers.job("slow", timeout=timedelta(minutes=2))(handler)
    sessions: async_sessionmaker[AsyncSession] = async_sessionmaker()
    with pytest.raises(ValueError, match="at least"):
        Worker(sessions, handlers, lease=timedelta(seconds=1))
    Worker(sessions, handlers, lease=timedelta(seconds=15))  # renewed while "slow" runs
    with pytest.raises(ValueError, match="concurrency"):
        Worker(sessions, handlers, lease=timedelta(minutes=3), concurrency=0)
    worker = Worker(sessions, handlers, lease=timedelta(minutes=3))
    assert (
        len(worker.worker_id) <= 64
        and worker.worker_id != Worker(sessions, handlers, lease=timedelta(minutes=3)).worker_id
    )


def test_error_summary_is_short_and_says_where() -> None:
    try:
        raise RuntimeError("provider said no")
    except RuntimeError as exc:
        summary = error_summary(exc)
    first, where = summary.splitlines()
    assert first == "RuntimeError: provider said no"
    assert "test_jobs_handlers.py" in where and "test_error_summary_is_short" in where
    assert error_summary(TimeoutError(), timeout=timedelta(seconds=2)) == (
        "TimeoutError: handler ran longer than 2 s"
    )
    assert error_summary(KeyError()) == "KeyError"


def test_current_job_outside_a_handler_is_an_error() -> None:
    with pytest.raises(LookupError):
        current_job()
