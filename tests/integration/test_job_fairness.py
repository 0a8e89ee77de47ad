"""Fairness between businesses: one organisation's month-end backlog of thousands of jobs does
not hold up another organisation's single job (SQLite and PostgreSQL).

The handlers stand in for the provider calls a send makes (a short wait each); the queue,
the claims and the worker are the real ones.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.db.scope import ALL, scoped_to
from payrequest.jobs import queue
from payrequest.jobs.handlers import JobHandlers
from payrequest.jobs.models import Job
from payrequest.jobs.process import running
from payrequest.jobs.runner import Worker
from payrequest.kit.clock import utcnow
from payrequest.organisations import service as organisations
from payrequest.organisations.service import NewOrganisation

BACKLOG = 2_000
CALL_SECONDS = 0.02  # what each send waits for "the provider"
SLOTS = 4  # 2,000 x 20 ms over 4 slots: ten seconds of backlog, first come first served


async def _small_business(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        small = await organisations.create(
            session, NewOrganisation(name="Lille Butik ApS", slug="lille-butik", market="DK")
        )
        return small.id


async def _backlog(sessions: async_sessionmaker[AsyncSession], organisation: int) -> None:
    """BACKLOG send jobs of `organisation`, all due, in one INSERT (as a bulk send queues them)."""
    now = utcnow()
    rows = [
        {
            "kind": "send",
            "payload": {"n": n},
            "status": "queued",
            "run_at": now,
            "attempts": 0,
            "max_attempts": 3,
            "created_at": now,
            "updated_at": now,
            "organisation_id": organisation,
        }
        for n in range(BACKLOG)
    ]
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        await session.execute(insert(Job), rows)


def _sender(done: dict[int, list[float]], under_way: asyncio.Event) -> JobHandlers:
    handlers = JobHandlers()
    handlers.lane("money", slots=SLOTS, kinds=["send"])

    @handlers.job("send")
    async def send(session: AsyncSession, _payload: dict[str, Any]) -> None:
        await asyncio.sleep(CALL_SECONDS)
        organisation = (await session.scalars(select(Job.organisation_id).limit(1))).first()
        done.setdefault(organisation or 0, []).append(time.monotonic())
        if len(done[organisation or 0]) >= 50:
            under_way.set()

    return handlers


async def test_a_small_business_is_served_while_a_big_one_bulk_sends(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    big = 1  # the test organisation
    small = await _small_business(sessions)
    await _backlog(sessions, big)
    done: dict[int, list[float]] = {}
    under_way = asyncio.Event()
    worker = Worker(
        sessions,
        _sender(done, under_way),
        concurrency=1,
        poll_interval=timedelta(milliseconds=50),
    )
    async with running(worker, grace=0.5):
        await asyncio.wait_for(under_way.wait(), timeout=10)  # the backlog is being worked
        async with sessions(info=scoped_to(small)) as session, session.begin():
            await queue.enqueue(session, kind="send", payload={"n": "small"})
        asked = time.monotonic()
        while not done.get(small):
            assert time.monotonic() - asked < 2.0, "the small business waited behind the backlog"
            await asyncio.sleep(0.01)
        waited = done[small][0] - asked
        left = BACKLOG - len(done[big])
    assert waited < 2.0
    # ... and it was not simply the end of the backlog: most of it was still waiting
    assert left > BACKLOG // 2, f"only {left} of the big business's jobs were left"
