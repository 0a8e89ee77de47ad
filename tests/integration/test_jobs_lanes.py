"""Lanes, renewed leases, skipped stale periods and re-armed jobs, on SQLite and PostgreSQL.

A lane's kinds run in worker slots no other kind can take (captures keep running while polls
hang), a running worker renews its leases (a short lease, a long handler, one run), a
periodic backlog runs once, and a job row of one subject is queued again instead of piling up.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.jobs import queue
from payrequest.jobs.handlers import JobHandlers
from payrequest.jobs.process import running
from payrequest.jobs.rearm import enqueue_or_rearm
from payrequest.jobs.runner import Worker
from payrequest.kit.clock import utcnow
from tests.integration.test_jobs import FakeClock, Sessions, add, count_jobs, load, make_worker


def hanging_and_money(ran: list[str], gate: asyncio.Event) -> JobHandlers:
    """Kind "poll" waits for `gate` (a hung provider); kind "capture" notes that it ran."""
    handlers = JobHandlers()

    @handlers.job("poll")
    async def poll(_session: AsyncSession, _payload: dict[str, Any]) -> None:
        await gate.wait()
        ran.append("poll")

    @handlers.job("capture")
    async def capture(_session: AsyncSession, _payload: dict[str, Any]) -> None:
        ran.append("capture")

    return handlers


async def _wait_for(condition: Any, within: float) -> bool:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_hanging_polls_cannot_take_the_slots_of_captures(sessions: Sessions) -> None:
    ran: list[str] = []
    gate = asyncio.Event()
    handlers = hanging_and_money(ran, gate)
    handlers.lane("money", slots=1, kinds=["capture"])
    handlers.lane("poll", slots=2, kinds=["poll"])
    clock = FakeClock()
    # Ten polls due before the capture: oldest first, they would fill every slot.
    for _ in range(10):
        await add(sessions, clock, "poll", run_at=clock.now - timedelta(minutes=1))
    capture = await add(sessions, clock, "capture")
    worker = Worker(sessions, handlers, concurrency=2, poll_interval=timedelta(milliseconds=20))
    async with running(worker, grace=0.1):
        assert await _wait_for(lambda: "capture" in ran, within=5), "the capture never ran"
        # the capture finishes; the poll lane's two slots still hang
        assert await _wait_for(lambda: worker.in_flight == 2, within=5), worker.in_flight
        assert await count_jobs(sessions, kind="poll", status="running") == 2
        gate.set()
        assert await _wait_for(lambda: ran.count("poll") == 10, within=10)
    assert (await load(sessions, capture)).status == "done"


async def test_without_a_lane_a_kind_shares_the_concurrency_slots(sessions: Sessions) -> None:
    ran: list[str] = []
    gate = asyncio.Event()
    handlers = hanging_and_money(ran, gate)
    clock = FakeClock()
    for _ in range(3):
        await add(sessions, clock, "poll", run_at=clock.now - timedelta(minutes=1))
    await add(sessions, clock, "capture")
    worker = Worker(sessions, handlers, concurrency=2, poll_interval=timedelta(milliseconds=20))
    async with running(worker, grace=0.1):
        await asyncio.sleep(0.5)
        assert ran == []  # the two slots hang on polls: the capture waits (why lanes exist)
        gate.set()
        assert await _wait_for(lambda: "capture" in ran, within=5)


def test_a_kind_is_in_one_lane_only() -> None:
    handlers = JobHandlers()
    handlers.lane("money", slots=1, kinds=["capture"])
    for name, kinds in (("money", ["refund"]), ("other", ["capture"]), ("default", ["x"])):
        try:
            handlers.lane(name, slots=1, kinds=kinds)
        except ValueError:
            continue
        raise AssertionError(f"lane {name} {kinds} was accepted")


async def test_a_running_worker_renews_its_leases(sessions: Sessions) -> None:
    """A 3 s lease, a 4.5 s handler: the other worker (reaping every 0.75 s) never takes it."""
    runs: list[str] = []
    handlers = JobHandlers()

    @handlers.job("slow", timeout=timedelta(seconds=10))
    async def slow(_session: AsyncSession, _payload: dict[str, Any]) -> None:
        runs.append("run")
        await asyncio.sleep(4.5)

    lease = timedelta(seconds=3)
    clock = FakeClock()
    job_id = await add(sessions, clock, "slow")
    first = Worker(sessions, handlers, worker_id="first", lease=lease)
    second = Worker(sessions, handlers, worker_id="second", lease=lease)
    async with running(first):
        assert await _wait_for(lambda: runs == ["run"], within=5)
        async with running(second):
            await _wait_for(lambda: first.in_flight == 0, within=8)
    job = await load(sessions, job_id)
    assert (job.status, job.attempts, runs) == ("done", 1, ["run"])


async def test_a_periodic_backlog_runs_once(sessions: Sessions) -> None:
    slots: list[int] = []
    handlers = JobHandlers()

    @handlers.periodic("tick", every=timedelta(seconds=1))
    async def tick(_session: AsyncSession, payload: dict[str, Any]) -> None:
        slots.append(payload["slot"])

    second = int(utcnow().timestamp())
    clock = FakeClock(datetime.fromtimestamp(second, UTC))
    spec = handlers.periodic_specs[0]
    async with sessions() as session, session.begin():
        for slot in range(second - 30, second):  # 30 periods a busy worker never got to
            payload = {"slot": slot, "scheduled_for": spec.slot_start(slot).isoformat()}
            await queue.enqueue(
                session,
                kind="tick",
                payload=payload,
                run_at=spec.slot_start(slot),
                dedupe_key=spec.dedupe_key(slot),
            )
    worker = make_worker(sessions, handlers, clock)
    assert await worker.run_once() == 31  # claimed and finished...
    assert slots == [second]  # ...but only the latest period did the work
    assert await count_jobs(sessions, kind="tick", status="done") == 31


async def test_a_job_of_one_subject_is_queued_again_not_added(sessions: Sessions) -> None:
    ran: list[str] = []
    handlers = JobHandlers()

    @handlers.job("poll_one", max_attempts=3)
    async def poll_one(_session: AsyncSession, payload: dict[str, Any]) -> None:
        ran.append(payload["reference"])

    async def rearm(reference: str) -> bool:
        async with sessions() as session, session.begin():
            return await enqueue_or_rearm(
                session,
                kind="poll_one",
                payload={"reference": reference},
                dedupe_key=f"poll:{reference}",
                max_attempts=3,
            )

    assert await rearm("a") is True
    assert await rearm("a") is False  # still queued: that run will do
    worker = make_worker(sessions, handlers, FakeClock(utcnow() + timedelta(seconds=1)))
    for _ in range(3):
        assert await worker.run_once() == 1
        assert await rearm("a") is True  # done: queued again, on the same row
    assert ran == ["a", "a", "a"]
    assert await count_jobs(sessions, kind="poll_one") == 1
