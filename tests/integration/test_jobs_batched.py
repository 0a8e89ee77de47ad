"""Batched completions: a handler that never reaches the database has its completion written
with the others finishing about then, under the same lease guard; one that writes completes in
its own transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.jobs import leases, queue
from payrequest.jobs.context import current_job
from payrequest.jobs.handlers import JobHandlers
from payrequest.jobs.models import Job
from payrequest.kit.clock import utcnow
from tests.integration.test_jobs import (
    LEASE,
    FakeClock,
    Sessions,
    add,
    count_jobs,
    load,
    make_worker,
)
from tests.integration.test_jobs_workers import eventually


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batched complete statement the workers send."""
    sizes: list[int] = []
    complete_many = leases.complete_many

    async def counting(*args: Any, jobs: Sequence[leases.Claimed], **kwargs: Any) -> set[int]:
        sizes.append(len(jobs))
        return await complete_many(*args, jobs=jobs, **kwargs)

    monkeypatch.setattr(leases, "complete_many", counting)
    return sizes


def _handlers(gates: dict[str, asyncio.Event], ran: list[tuple[int, str]]) -> JobHandlers:
    """ "quiet" touches no table (waits at its gate when one is set for the worker's attempt);
    "writer" enqueues a marker job in its own transaction."""
    handlers = JobHandlers()

    @handlers.job("quiet")
    async def quiet(_session: AsyncSession, _payload: dict[str, Any]) -> None:
        job = current_job()
        gate = gates.get(f"{job.worker_id}#{job.attempt}")
        if gate is not None:
            await gate.wait()
        ran.append((job.job_id, job.worker_id))

    @handlers.job("writer")
    async def writer(session: AsyncSession, _payload: dict[str, Any]) -> None:
        job = current_job()
        await queue.enqueue(session, kind="marker", payload={}, dedupe_key=f"m:{job.job_id}")

    @handlers.job("adder")
    async def adder(session: AsyncSession, _payload: dict[str, Any]) -> None:
        """Adds a row and leaves it to the commit's flush."""
        job = current_job()
        session.add(Job(kind="marker", payload={}, run_at=utcnow(), dedupe_key=f"a:{job.job_id}"))

    return handlers


async def test_quiet_jobs_complete_in_batches_and_writers_on_their_own(
    sessions: Sessions, clock: FakeClock, batches: list[int]
) -> None:
    handlers = _handlers({}, [])
    quiet = [await add(sessions, clock, "quiet") for _ in range(6)]
    writers = [await add(sessions, clock, kind) for kind in ("writer", "adder")]
    worker = make_worker(sessions, handlers, clock, concurrency=8)
    assert await worker.run_once() == 8
    for job_id in quiet + writers:
        job = await load(sessions, job_id)
        assert (job.status, job.attempts) == ("done", 1), job_id
    assert sum(batches) == 6  # the quiet ones, all in batches...
    assert len(batches) < 6  # ...of more than one
    assert await count_jobs(sessions, kind="marker") == 2


async def test_a_lost_lease_cannot_mark_a_quiet_job_done(
    sessions: Sessions, clock: FakeClock, batches: list[int]
) -> None:
    """a stalls past its lease; b re-claims the job and is still running it when a's run
    ends: a's batched complete changes nothing, b's counts."""
    ran: list[tuple[int, str]] = []
    late, rescue = asyncio.Event(), asyncio.Event()
    handlers = _handlers({"a#1": late, "b#2": rescue}, ran)
    stalled = make_worker(sessions, handlers, clock, worker_id="a")
    rescuing = make_worker(sessions, handlers, clock, worker_id="b")
    job_id = await add(sessions, clock, "quiet")

    async def claimed(attempts: int) -> bool:
        return (await load(sessions, job_id)).attempts >= attempts

    a_run = asyncio.create_task(stalled.run_once())
    await eventually(lambda: claimed(1))
    clock.advance(seconds=LEASE.total_seconds() + 1)
    b_run = asyncio.create_task(rescuing.run_once())
    await eventually(lambda: claimed(2))

    late.set()
    assert await a_run == 1
    job = await load(sessions, job_id)
    assert (job.status, job.locked_by, job.attempts) == ("running", "b", 2)

    rescue.set()
    assert await b_run == 1
    job = await load(sessions, job_id)
    assert (job.status, job.locked_by, job.attempts) == ("done", "b", 2)
    assert ran == [(job_id, "a"), (job_id, "b")]
    assert batches == [1, 1]
