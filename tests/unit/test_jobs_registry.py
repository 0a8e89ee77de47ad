"""The job registry, periodic slots, worker settings and error summaries (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.jobs.context import current_job
from payrequest.jobs.registry import (
    DEFAULT_TIMEOUT,
    PERIODIC_MAX_ATTEMPTS,
    JobRegistry,
    UnknownJobKind,
)
from payrequest.jobs.runner import Worker, error_summary


async def handler(session: AsyncSession, payload: dict[str, Any]) -> None:
    return None


def test_decorators_register_and_return_the_handler() -> None:
    registry = JobRegistry()
    decorated = registry.job("capture", max_attempts=50, timeout=timedelta(seconds=20))(handler)
    polled = registry.periodic("poll", every=timedelta(seconds=5))(handler)
    assert decorated is handler and polled is handler
    assert registry.kinds == ["capture", "poll"]
    capture = registry.spec("capture")
    assert (capture.max_attempts, capture.timeout) == (50, timedelta(seconds=20))
    poll = registry.spec("poll")
    assert (poll.max_attempts, poll.timeout) == (PERIODIC_MAX_ATTEMPTS, DEFAULT_TIMEOUT)
    assert [spec.kind for spec in registry.periodic_specs] == ["poll"]
    assert "poll" in registry and "other" not in registry and len(registry) == 2


def test_registrations_are_checked() -> None:
    registry = JobRegistry()
    registry.job("capture")(handler)
    with pytest.raises(ValueError, match="already registered"):
        registry.job("capture")(handler)
    with pytest.raises(ValueError, match="max_attempts"):
        registry.job("x", max_attempts=0)(handler)
    with pytest.raises(ValueError, match="timeout"):
        registry.job("x", timeout=timedelta(0))(handler)
    with pytest.raises(ValueError, match="characters"):
        registry.job("x" * 65)(handler)
    with pytest.raises(ValueError, match="once a second"):
        registry.periodic("fast", every=timedelta(milliseconds=10))
    with pytest.raises(UnknownJobKind):
        registry.spec("missing")


def test_registries_are_separate() -> None:
    def payments(registry: JobRegistry) -> None:  # as a package's `install` does
        registry.job("capture")(handler)

    def automations(registry: JobRegistry) -> None:
        registry.job("send-sms")(handler)

    one, two = JobRegistry(), JobRegistry()
    payments(one)
    automations(one)
    payments(two)
    assert one.kinds == ["capture", "send-sms"]
    assert two.kinds == ["capture"]


def test_periodic_slots_are_the_same_for_every_worker() -> None:
    registry = JobRegistry()
    registry.periodic("poll", every=timedelta(minutes=5))(handler)
    [spec] = registry.periodic_specs
    at = datetime(2027, 1, 1, 12, 7, 30, tzinfo=UTC)
    slot = spec.slot(at)
    assert spec.slot_start(slot) == datetime(2027, 1, 1, 12, 5, tzinfo=UTC)
    assert spec.slot(datetime(2027, 1, 1, 12, 9, 59, tzinfo=UTC)) == slot
    assert spec.slot(datetime(2027, 1, 1, 12, 10, tzinfo=UTC)) == slot + 1
    assert spec.dedupe_key(slot) == f"periodic:poll:{slot}"


def test_worker_lease_must_outlast_every_handler_timeout() -> None:
    registry = JobRegistry()
    registry.job("slow", timeout=timedelta(minutes=2))(handler)
    sessions: async_sessionmaker[AsyncSession] = async_sessionmaker()
    with pytest.raises(ValueError, match="slow"):
        Worker(sessions, registry, lease=timedelta(minutes=1))
    with pytest.raises(ValueError, match="concurrency"):
        Worker(sessions, registry, lease=timedelta(minutes=3), concurrency=0)
    worker = Worker(sessions, registry, lease=timedelta(minutes=3))
    assert (
        len(worker.worker_id) <= 64
        and worker.worker_id != Worker(sessions, registry, lease=timedelta(minutes=3)).worker_id
    )


def test_error_summary_is_short_and_says_where() -> None:
    try:
        raise RuntimeError("provider said no")
    except RuntimeError as exc:
        summary = error_summary(exc)
    first, where = summary.splitlines()
    assert first == "RuntimeError: provider said no"
    assert "test_jobs_registry.py" in where and "test_error_summary_is_short" in where
    assert error_summary(TimeoutError(), timeout=timedelta(seconds=2)) == (
        "TimeoutError: handler ran longer than 2 s"
    )
    assert error_summary(KeyError()) == "KeyError"


def test_current_job_outside_a_handler_is_an_error() -> None:
    with pytest.raises(LookupError):
        current_job()
