"""A job asked to wait (RetryAt, e.g. a rate limit's Retry-After) comes back at that time,
counting one attempt, on SQLite and PostgreSQL. Time is the worker's fake clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.jobs.context import RetryAt, current_job
from payrequest.jobs.handlers import JobHandlers
from tests.integration.test_jobs import FakeClock, add, load, make_worker

Sessions = async_sessionmaker[AsyncSession]
WAIT = timedelta(seconds=58)


def waiting_handlers(clock: FakeClock, runs: list[int], *, waits: int) -> JobHandlers:
    """Kind "limited" is told to wait WAIT on its first `waits` runs, then succeeds."""
    handlers = JobHandlers()

    @handlers.job("limited", max_attempts=3)
    async def limited(_session: AsyncSession, _payload: dict[str, Any]) -> None:
        runs.append(current_job().attempt)
        if len(runs) <= waits:
            raise RetryAt(clock.now + WAIT, "Rate limit is exceeded. Try again in 58 seconds.")

    return handlers


async def test_a_job_asked_to_wait_runs_again_exactly_then(sessions: Sessions) -> None:
    clock, runs = FakeClock(), list[int]()
    worker = make_worker(sessions, waiting_handlers(clock, runs, waits=1), clock)
    job_id = await add(sessions, clock, "limited")

    assert await worker.run_once() == 1
    job = await load(sessions, job_id)
    assert (job.status, job.attempts, job.run_at) == ("queued", 1, clock.now + WAIT)
    assert job.last_error is not None
    assert job.last_error.startswith(f"waiting until {(clock.now + WAIT).isoformat()}")
    assert "Try again in 58 seconds" in job.last_error

    clock.advance(seconds=57)
    assert await worker.run_once() == 0  # not before the wait is over (no backoff guess)
    clock.advance(seconds=1)
    assert await worker.run_once() == 1
    job = await load(sessions, job_id)
    assert (job.status, job.attempts) == ("done", 2)
    assert runs == [1, 2]


async def test_a_wait_on_the_last_attempt_is_a_dead_letter(sessions: Sessions) -> None:
    """Each wait counts as one attempt, so a provider that never stops asking to wait ends
    in a dead letter a person can see, not in a job that waits forever."""
    clock, runs = FakeClock(), list[int]()
    handlers = waiting_handlers(clock, runs, waits=99)
    worker = make_worker(sessions, handlers, clock)
    job_id = await add(sessions, clock, "limited", handlers)  # the kind's 3 attempts
    for _ in range(3):
        assert await worker.run_once() == 1
        clock.advance(seconds=58)
    job = await load(sessions, job_id)
    assert (job.status, job.attempts) == ("dead", 3)
    assert job.last_error is not None and job.last_error.startswith("RetryAt: Rate limit")
    assert runs == [1, 2, 3]
