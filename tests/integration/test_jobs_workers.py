"""Several workers on one queue: leases, lost leases, concurrency, periodic jobs, wake-ups, stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.db.session import create_engine, session_factory
from payrequest.jobs import leases, queue
from payrequest.jobs.context import current_job
from payrequest.jobs.handlers import JobHandlers
from payrequest.jobs.models import Job
from payrequest.jobs.process import running
from payrequest.jobs.runner import Worker, outage_wait
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


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def noting_handlers(ran: list[tuple[int, str]]) -> JobHandlers:
    """Kind "note": records (job id, worker id) and enqueues a marker job
    "marker:<job>:<worker>" in the handler's own transaction, so a rolled-back run leaves no
    marker. A run first waits for `GATES["<worker>#<attempt>"]` when that gate exists."""
    handlers = JobHandlers()

    @handlers.job("note")
    async def note(session: AsyncSession, payload: dict[str, Any]) -> None:
        job = current_job()
        gate = GATES.get(f"{job.worker_id}#{job.attempt}")
        if gate is not None:
            await gate.wait()
        ran.append((job.job_id, job.worker_id))
        await queue.enqueue(
            session, kind="marker", payload={}, dedupe_key=f"marker:{job.job_id}:{job.worker_id}"
        )

    return handlers


GATES: dict[str, asyncio.Event] = {}


async def _claim_and_crash(sessions: Sessions, clock: FakeClock) -> list[leases.Claimed]:
    """What a worker that dies right after claiming leaves behind."""
    async with sessions() as session, session.begin():
        return await leases.claim(
            session, worker_id="crashed", kinds=["note"], limit=10, now=clock.now, lease=LEASE
        )


async def test_expired_lease_is_reclaimed_by_another_worker(
    sessions: Sessions, clock: FakeClock
) -> None:
    ran: list[tuple[int, str]] = []
    job_id = await add(sessions, clock, "note")
    assert [job.id for job in await _claim_and_crash(sessions, clock)] == [job_id]
    rescuer = make_worker(sessions, noting_handlers(ran), clock, worker_id="rescuer")

    clock.advance(seconds=LEASE.total_seconds() - 1)
    assert await rescuer.run_once() == 0  # the lease still holds
    clock.advance(seconds=2)
    assert await rescuer.run_once() == 1
    job = await load(sessions, job_id)
    assert (job.status, job.attempts, job.locked_by) == ("done", 2, "rescuer")
    assert ran == [(job_id, "rescuer")]


async def test_expired_lease_on_the_last_attempt_is_a_dead_letter(
    sessions: Sessions, clock: FakeClock
) -> None:
    job_id = await add(sessions, clock, "note", max_attempts=1)
    await _claim_and_crash(sessions, clock)
    clock.advance(seconds=LEASE.total_seconds() + 1)
    rescuer = make_worker(sessions, noting_handlers([]), clock)
    assert await rescuer.run_once() == 0
    job = await load(sessions, job_id)
    assert (job.status, job.last_error) == ("dead", leases.LOST_WORKER_ERROR)


@pytest.mark.parametrize("rescuer", ["b", "a"], ids=["other-worker", "same-worker-id"])
async def test_a_lost_lease_cannot_mark_done(
    sessions: Sessions, clock: FakeClock, rescuer: str
) -> None:
    """a stalls past its lease; the rescuer re-claims the job (attempt 2) and is still running
    it when a's late run tries to finish: a's run changes nothing, the rescuer's counts."""
    ran: list[tuple[int, str]] = []
    GATES.clear()
    late, rescue = GATES["a#1"], GATES[f"{rescuer}#2"] = asyncio.Event(), asyncio.Event()
    handlers = noting_handlers(ran)
    stalled = make_worker(sessions, handlers, clock, worker_id="a")
    rescuing = make_worker(sessions, handlers, clock, worker_id=rescuer)
    job_id = await add(sessions, clock, "note")

    a_run = asyncio.create_task(stalled.run_once())
    await _wait_until_job(sessions, job_id, attempts=1)
    clock.advance(seconds=LEASE.total_seconds() + 1)
    rescuer_run = asyncio.create_task(rescuing.run_once())
    await _wait_until_job(sessions, job_id, attempts=2)

    late.set()
    assert await a_run == 1
    job = await load(sessions, job_id)
    assert (job.status, job.locked_by, job.attempts) == ("running", rescuer, 2)
    assert await count_jobs(sessions, kind="marker") == 0  # a's work was rolled back

    rescue.set()
    assert await rescuer_run == 1
    job = await load(sessions, job_id)
    assert (job.status, job.locked_by, job.attempts) == ("done", rescuer, 2)
    assert ran == [(job_id, "a"), (job_id, rescuer)]  # both ran: at least once, not exactly
    async with sessions() as session:
        markers = (await session.scalars(select(Job.dedupe_key).where(Job.kind == "marker"))).all()
    assert markers == [f"marker:{job_id}:{rescuer}"]


async def _wait_until_job(sessions: Sessions, job_id: int, *, attempts: int) -> None:
    async def claimed() -> bool:
        return (await load(sessions, job_id)).attempts >= attempts

    await eventually(claimed)


async def test_claim_takes_at_most_limit_oldest_first(sessions: Sessions, clock: FakeClock) -> None:
    ids = [
        await add(sessions, clock, "note", run_at=clock.now - timedelta(seconds=n))
        for n in range(10)
    ]
    async with sessions() as session, session.begin():
        claimed = await leases.claim(
            session, worker_id="w", kinds=["note"], limit=3, now=clock.now, lease=LEASE
        )
    assert [job.id for job in claimed] == ids[::-1][:3]
    assert await count_jobs(sessions, status="running") == 3


async def test_workers_share_the_queue_and_run_every_job_exactly_once(
    sessions: Sessions, database_url: str
) -> None:
    """Three processes' worth of workers, each with its own engine, drain one queue."""
    dialect = sessions.kw["bind"].dialect.name
    total = 200 if dialect == "postgresql" else 60
    ran: list[tuple[int, str]] = []
    handlers = noting_handlers(ran)
    engines = [create_engine(database_url) for _ in range(3)]
    try:
        workers = [
            Worker(session_factory(engine), handlers, worker_id=f"w{n}", concurrency=4)
            for n, engine in enumerate(engines)
        ]
        async with sessions() as session, session.begin():
            for n in range(total):
                await queue.enqueue(session, kind="note", payload={"n": n})
        counts = await asyncio.gather(*(worker.run_once() for worker in workers))
    finally:
        for engine in engines:
            await engine.dispose()

    job_ids = [job_id for job_id, _ in ran]
    assert sum(counts) == total
    assert len(job_ids) == total and len(set(job_ids)) == total
    assert await count_jobs(sessions, kind="note", status="done") == total
    assert await count_jobs(sessions, kind="marker") == total
    assert len({worker for _, worker in ran}) >= 2, "the workers did not overlap"


async def test_periodic_job_is_scheduled_once_per_period_across_workers(
    sessions: Sessions, clock: FakeClock
) -> None:
    slots: list[tuple[int, str]] = []
    handlers = JobHandlers()

    @handlers.periodic("poll", every=timedelta(minutes=1))
    async def poll(session: AsyncSession, payload: dict[str, Any]) -> None:
        slots.append((payload["slot"], current_job().worker_id))

    minute = int(utcnow().timestamp()) // 60
    clock.now = datetime.fromtimestamp(minute * 60 + 10, UTC)  # 10 s into a period
    workers = [make_worker(sessions, handlers, clock, worker_id=f"w{n}") for n in range(2)]

    async def run_both() -> int:
        return sum(await asyncio.gather(*(worker.run_once() for worker in workers)))

    assert await run_both() == 1
    assert await run_both() == 0
    clock.advance(seconds=45)  # still the same period
    assert await run_both() == 0
    clock.advance(seconds=5)  # the next one
    assert await run_both() == 1

    assert [slot for slot, _ in slots] == [minute, minute + 1]
    assert await count_jobs(sessions, kind="poll") == 2
    assert await count_jobs(sessions, dedupe_key=f"periodic:poll:{minute}", status="done") == 1
    # a worker started later, in the same period, does not schedule it again
    late = make_worker(sessions, handlers, clock, worker_id="late")
    assert await late.run_once() == 0


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 2.0) -> None:
    """Poll `check` every 5 ms until it holds; fail after `seconds`."""
    for _ in range(int(seconds / 0.005)):
        if await check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{check.__name__} did not happen within {seconds} s")


async def _wait_for(condition: Callable[[], bool]) -> None:
    async def holds() -> bool:
        return condition()

    await eventually(holds)


async def test_notify_wakes_an_idle_worker(sessions: Sessions) -> None:
    ran: list[tuple[int, str]] = []
    worker = Worker(sessions, noting_handlers(ran), poll_interval=timedelta(seconds=30))
    runner = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.05)  # first claim done: the worker now sleeps up to 30 s
        job_id = await add(sessions, FakeClock(utcnow()), "note")
        await asyncio.sleep(0.1)
        assert ran == []  # nobody told it
        worker.notify()
        await _wait_for(lambda: ran == [(job_id, worker.worker_id)])
    finally:
        await worker.stop(grace=1)
        await runner


async def test_wakeups_seam_wakes_the_worker(sessions: Sessions) -> None:
    """Stands in for PostgreSQL LISTEN/NOTIFY: any async iterator of notices."""
    notices: asyncio.Queue[str] = asyncio.Queue()

    async def wakeups() -> AsyncIterator[str]:
        while True:
            yield await notices.get()

    ran: list[tuple[int, str]] = []
    worker = Worker(
        sessions, noting_handlers(ran), poll_interval=timedelta(seconds=30), wakeups=wakeups()
    )
    runner = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.05)
        job_id = await add(sessions, FakeClock(utcnow()), "note")
        await notices.put("jobs")
        await _wait_for(lambda: [job for job, _ in ran] == [job_id])
    finally:
        await worker.stop(grace=1)
        await runner


async def test_graceful_stop_lets_running_handlers_finish(sessions: Sessions) -> None:
    ran: list[tuple[int, str]] = []
    worker = Worker(sessions, noting_handlers(ran), poll_interval=timedelta(milliseconds=20))
    GATES[f"{worker.worker_id}#1"] = gate = asyncio.Event()
    job_id = await add(sessions, FakeClock(utcnow()), "note")
    runner = asyncio.create_task(worker.run())
    await _wait_for(lambda: worker.in_flight == 1)

    stopping = asyncio.create_task(worker.stop(grace=5))
    await asyncio.sleep(0.03)
    assert not stopping.done()  # waiting for the handler
    gate.set()
    await asyncio.wait_for(stopping, 2)
    assert runner.done()
    assert ran == [(job_id, worker.worker_id)]
    assert (await load(sessions, job_id)).status == "done"


async def test_stop_after_grace_cancels_and_gives_the_job_back(sessions: Sessions) -> None:
    worker = Worker(sessions, noting_handlers([]), poll_interval=timedelta(milliseconds=20))
    GATES[f"{worker.worker_id}#1"] = asyncio.Event()  # never set
    job_id = await add(sessions, FakeClock(utcnow()), "note")
    runner = asyncio.create_task(worker.run())
    await _wait_for(lambda: worker.in_flight == 1)

    await asyncio.wait_for(worker.stop(grace=0.05), 2)
    assert runner.done() and worker.in_flight == 0
    job = await load(sessions, job_id)
    assert (job.status, job.attempts, job.locked_by, job.locked_until) == ("queued", 0, None, None)
    assert await count_jobs(sessions, kind="marker") == 0


async def test_running_hosts_a_worker_for_a_block(sessions: Sessions) -> None:
    """As in the web app's lifespan; leaving the block at once must not hang."""
    ran: list[tuple[int, str]] = []
    worker = Worker(sessions, noting_handlers(ran), poll_interval=timedelta(seconds=30))
    async with asyncio.timeout(2):
        async with running(worker):
            pass
    assert worker.in_flight == 0

    worker = Worker(sessions, noting_handlers(ran), poll_interval=timedelta(seconds=30))
    async with asyncio.timeout(2), running(worker, grace=1):
        job_id = await add(sessions, FakeClock(utcnow()), "note")
        worker.notify()
        await _wait_for(lambda: [job for job, _ in ran] == [job_id])
    assert (await load(sessions, job_id)).status == "done"


def test_outage_waits_double_up_to_a_minute() -> None:
    assert [outage_wait(n) for n in (1, 2, 3, 4, 7, 8, 50)] == [1, 2, 4, 8, 60, 60, 60]


async def test_a_worker_whose_database_is_away_tries_again_with_backoff(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One log line per try, 1, 2, 4 … s apart, not one per poll interval (issue 13)."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/missing/folder/x.db")
    worker = Worker(
        session_factory(engine), noting_handlers([]), poll_interval=timedelta(seconds=0.05)
    )
    caplog.set_level(logging.ERROR, logger="payrequest.jobs")
    runner = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(3.5)  # tries at 0, 1 and 3 s; 70 with the poll interval
    finally:
        await worker.stop(grace=1)
        await runner
        await engine.dispose()
    tries = [r for r in caplog.records if "claiming failed" in r.getMessage()]
    assert 2 <= len(tries) <= 4, [r.getMessage() for r in tries]
    assert "next try in 2 s" in tries[1].getMessage()
