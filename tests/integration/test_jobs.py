"""The job runner on SQLite and PostgreSQL: enqueue, run, retry with backoff, dead letters.

Time is a `FakeClock` handed to the worker: tests move it instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.db.scope import ALL, scoped_to
from payrequest.errors import Conflict, NotFound
from payrequest.jobs import queue
from payrequest.jobs.backoff import Backoff
from payrequest.jobs.context import PermanentJobError, current_job
from payrequest.jobs.handlers import JobHandlers
from payrequest.jobs.models import Job
from payrequest.jobs.runner import Worker
from payrequest.kit.clock import utcnow

Sessions = async_sessionmaker[AsyncSession]
LEASE = timedelta(seconds=60)


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def make_worker(
    sessions: Sessions, handlers: JobHandlers, clock: Callable[[], datetime], **options: Any
) -> Worker:
    options.setdefault("lease", LEASE)
    options.setdefault("poll_interval", timedelta(milliseconds=20))
    return Worker(sessions, handlers, clock=clock, **options)


async def add(
    sessions: Sessions,
    clock: FakeClock,
    kind: str,
    handlers: JobHandlers | None = None,
    **options: Any,
) -> int:
    """Enqueue one job due now (by the fake clock) and commit; return its id. With `handlers`,
    through `handlers.enqueue` (the kind's max_attempts applies)."""
    options.setdefault("payload", {})
    options.setdefault("run_at", clock.now)
    enqueue = queue.enqueue if handlers is None else handlers.enqueue
    async with sessions() as session, session.begin():
        job = await enqueue(session, kind=kind, **options)
        assert job is not None
        return job.id


async def load(sessions: Sessions, job_id: int) -> Job:
    async with sessions() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job


async def count_jobs(sessions: Sessions, **filters: Any) -> int:
    """Jobs of the whole queue: the installation's own (periodic jobs) and every business's."""
    async with sessions(info=scoped_to(ALL)) as session:
        query = select(func.count()).select_from(Job).filter_by(**filters)
        return int((await session.scalar(query)) or 0)


def recording_handlers(calls: list[dict[str, Any]]) -> JobHandlers:
    """Kinds: "ok" records its payload and enqueues a "followup" job in its own transaction;
    "boom" fails (max 3 attempts); "permanent" gives up at once."""
    handlers = JobHandlers()

    @handlers.job("ok")
    async def ok(session: AsyncSession, payload: dict[str, Any]) -> None:
        calls.append({**payload, "attempt": current_job().attempt})
        await queue.enqueue(session, kind="followup", payload={"after": current_job().job_id})

    @handlers.job("boom", max_attempts=3)
    async def boom(session: AsyncSession, payload: dict[str, Any]) -> None:
        calls.append(payload)
        await queue.enqueue(session, kind="followup", payload={"from": "boom"})
        raise ValueError("boom")

    @handlers.job("permanent")
    async def permanent(session: AsyncSession, payload: dict[str, Any]) -> None:
        raise PermanentJobError("invoice no longer exists")

    return handlers


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_enqueued_job_runs_once_and_is_done_with_its_writes(
    sessions: Sessions, clock: FakeClock
) -> None:
    calls: list[dict[str, Any]] = []
    worker = make_worker(sessions, recording_handlers(calls), clock)
    job_id = await add(sessions, clock, "ok", payload={"invoice": 7})

    assert await worker.run_once() == 1
    assert await worker.run_once() == 0
    assert calls == [{"invoice": 7, "attempt": 1}]
    job = await load(sessions, job_id)
    assert (job.status, job.attempts, job.finished_at) == ("done", 1, clock.now)
    assert job.locked_until is None and job.last_error is None
    # the handler's own write committed together with the done mark
    assert await count_jobs(sessions, kind="followup", status="queued") == 1


async def test_dedupe_key_enqueues_once(sessions: Sessions, clock: FakeClock) -> None:
    async with sessions() as session, session.begin():
        first = await queue.enqueue(session, kind="ok", payload={}, dedupe_key="capture:ref-1")
        again = await queue.enqueue(
            session, kind="ok", payload={"x": 1}, dedupe_key="capture:ref-1"
        )
    async with sessions() as session, session.begin():
        later = await queue.enqueue(session, kind="ok", payload={}, dedupe_key="capture:ref-1")
        other = await queue.enqueue(session, kind="ok", payload={}, dedupe_key="capture:ref-2")
    assert first is not None and first.id and first.status == "queued"
    assert (again, later) == (None, None)
    assert other is not None
    assert await count_jobs(sessions, dedupe_key="capture:ref-1") == 1
    assert await count_jobs(sessions) == 2


async def test_enqueue_is_part_of_the_callers_transaction(sessions: Sessions) -> None:
    async with sessions() as session:
        await queue.enqueue(session, kind="ok", payload={}, dedupe_key="rolled-back")
        await session.rollback()
    assert await count_jobs(sessions) == 0


async def test_a_future_job_waits_until_due(sessions: Sessions, clock: FakeClock) -> None:
    calls: list[dict[str, Any]] = []
    worker = make_worker(sessions, recording_handlers(calls), clock)
    await add(sessions, clock, "ok", run_at=clock.now + timedelta(minutes=5))
    assert await worker.run_once() == 0
    clock.advance(minutes=5)
    assert await worker.run_once() == 1
    assert len(calls) == 1


async def test_failures_back_off_exponentially_then_dead_letter_then_retry(
    sessions: Sessions, clock: FakeClock
) -> None:
    calls: list[dict[str, Any]] = []
    handlers = recording_handlers(calls)
    highest = Backoff(base=timedelta(seconds=1), uniform=lambda _low, high: high)
    worker = make_worker(sessions, handlers, clock, backoff=highest)
    job_id = await add(sessions, clock, "boom", handlers)

    for attempt, ceiling in ((1, 1), (2, 2)):
        assert await worker.run_once() == 1
        job = await load(sessions, job_id)
        assert (job.status, job.attempts) == ("queued", attempt)
        assert job.run_at == clock.now + timedelta(seconds=ceiling)
        assert job.locked_by is None and job.last_error is not None
        assert job.last_error.startswith("ValueError: boom")
        assert await worker.run_once() == 0  # not before its time
        clock.advance(seconds=ceiling)

    assert await worker.run_once() == 1
    job = await load(sessions, job_id)
    assert (job.status, job.attempts, job.finished_at) == ("dead", 3, clock.now)
    assert job.last_error is not None and "ValueError: boom" in job.last_error
    clock.advance(hours=1)
    assert await worker.run_once() == 0
    assert len(calls) == 3
    assert await count_jobs(sessions, kind="followup") == 0  # every failed run rolled back

    async with sessions() as session, session.begin():
        retried = await queue.retry_dead(session, job_id=job_id, run_at=clock.now)
    assert (retried.status, retried.attempts, retried.finished_at) == ("queued", 0, None)
    assert await worker.run_once() == 1
    assert len(calls) == 4
    assert (await load(sessions, job_id)).attempts == 1


async def test_backoff_jitter_stays_within_its_bounds(sessions: Sessions, clock: FakeClock) -> None:
    worker = make_worker(sessions, recording_handlers([]), clock)  # default Backoff: random
    job_ids = [await add(sessions, clock, "boom") for _ in range(20)]
    assert await worker.run_once() == 20
    delays = [(await load(sessions, job_id)).run_at - clock.now for job_id in job_ids]
    assert all(timedelta(0) <= delay <= timedelta(seconds=1) for delay in delays)
    assert len(set(delays)) > 1  # jittered, not all the same


async def test_permanent_error_is_a_dead_letter_at_once(
    sessions: Sessions, clock: FakeClock
) -> None:
    worker = make_worker(sessions, recording_handlers([]), clock)
    job_id = await add(sessions, clock, "permanent", max_attempts=10)
    assert await worker.run_once() == 1
    job = await load(sessions, job_id)
    assert (job.status, job.attempts) == ("dead", 1)
    assert job.last_error is not None
    assert job.last_error.startswith("PermanentJobError: invoice no longer exists")


async def test_timeout_counts_as_failure(sessions: Sessions, clock: FakeClock) -> None:
    handlers = JobHandlers()

    @handlers.job("slow", timeout=timedelta(milliseconds=50), max_attempts=2)
    async def slow(session: AsyncSession, payload: dict[str, Any]) -> None:
        import asyncio

        await asyncio.sleep(30)

    worker = make_worker(sessions, handlers, clock)
    job_id = await add(sessions, clock, "slow", max_attempts=2)
    assert await worker.run_once() == 1
    job = await load(sessions, job_id)
    assert (job.status, job.attempts) == ("queued", 1)
    assert job.last_error == "TimeoutError: handler ran longer than 0.05 s"
    clock.advance(seconds=5)
    assert await worker.run_once() == 1
    assert (await load(sessions, job_id)).status == "dead"


async def test_worker_claims_only_kinds_it_knows(sessions: Sessions, clock: FakeClock) -> None:
    worker = make_worker(sessions, recording_handlers([]), clock)
    job_id = await add(sessions, clock, "from-a-newer-release")
    assert await worker.run_once() == 0
    assert (await load(sessions, job_id)).status == "queued"


async def test_handlers_enqueue_uses_the_kinds_max_attempts(sessions: Sessions) -> None:
    handlers = recording_handlers([])
    async with sessions() as session, session.begin():
        boom = await handlers.enqueue(session, kind="boom", payload={})
        ok = await handlers.enqueue(session, kind="ok", payload={}, max_attempts=2)
    assert boom is not None and boom.max_attempts == 3
    assert ok is not None and ok.max_attempts == 2


async def test_retry_dead_refuses_other_jobs(sessions: Sessions, clock: FakeClock) -> None:
    job_id = await add(sessions, clock, "ok")
    async with sessions() as session:
        with pytest.raises(Conflict):
            await queue.retry_dead(session, job_id=job_id)
        with pytest.raises(NotFound):
            await queue.retry_dead(session, job_id=job_id + 1000)


async def test_operations_views_and_purge(sessions: Sessions, clock: FakeClock) -> None:
    worker = make_worker(sessions, recording_handlers([]), clock)
    dead = await add(sessions, clock, "permanent")
    done = await add(sessions, clock, "ok")
    await worker.run_once()
    async with sessions() as session, session.begin():
        assert [job.id for job in await queue.list_jobs(session, status="dead")] == [dead]
        listed = await queue.list_jobs(session, limit=2)
        assert [job.id for job in listed] == sorted([done, dead, done + 1], reverse=True)[:2]
        assert await queue.count_by_status(session) == {
            "queued": 1,  # the follow-up of "ok"
            "running": 0,
            "done": 1,
            "dead": 1,
        }
        with pytest.raises(ValueError, match="unknown job status"):
            await queue.list_jobs(session, status="lost")
        assert await queue.purge_done(session, older_than=timedelta(days=1)) == 0
    # finished_at comes from the fake clock; purge by the real one
    async with sessions() as session, session.begin():
        assert await queue.purge_done(session, older_than=timedelta(seconds=-60)) == 1
    assert await count_jobs(sessions, id=done) == 0
    assert await count_jobs(sessions, id=dead) == 1
