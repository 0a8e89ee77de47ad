"""The automation jobs: the dispatcher and the scheduler (periodic), and one job per action."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.automations.dispatch import DISPATCH_JOB, dispatch
from payrequest.automations.execution import ACTION_JOB, ACTION_MAX_ATTEMPTS, Services, perform
from payrequest.automations.schedule import SCHEDULE_JOB, scan, time_flows
from payrequest.db.scope import ALL, scoped_to
from payrequest.jobs.context import current_job
from payrequest.jobs.handlers import JobHandlers

DISPATCH_EVERY = timedelta(seconds=1)
ACTION_TIMEOUT = timedelta(seconds=40)


def install(
    handlers: JobHandlers,
    services: Services,
    *,
    schedule_every: timedelta = timedelta(seconds=30),
) -> None:
    """`schedule_every`: how often the scheduler looks (a step due at 08:00 goes out within
    it; PAYREQUEST_AUTOMATIONS__SCHEDULE_SECONDS); it goes by `services.calendar`."""

    @handlers.periodic(DISPATCH_JOB, every=DISPATCH_EVERY)
    async def dispatch_events(session: AsyncSession, _payload: dict[str, Any]) -> None:
        await dispatch(session, urls=services.urls)

    @handlers.periodic(SCHEDULE_JOB, every=schedule_every)
    async def schedule(_session: AsyncSession, _payload: dict[str, Any]) -> None:
        # Sessions of its own, one per flow's organisation; the job's stays unused meanwhile
        # (SQLite's writer has one connection).
        async with services.sessions(info=scoped_to(ALL)) as session:
            flows = await time_flows(session)
        await scan(services.sessions, flows, now=services.calendar.now())

    @handlers.job(ACTION_JOB, max_attempts=ACTION_MAX_ATTEMPTS, timeout=ACTION_TIMEOUT)
    async def run_action(session: AsyncSession, payload: dict[str, Any]) -> None:
        job = current_job()
        await perform(
            services,
            session,
            flow_run_id=int(payload["flow_run_id"]),
            position=int(payload["position"]),
            last_attempt=job.attempt >= job.max_attempts,
        )
