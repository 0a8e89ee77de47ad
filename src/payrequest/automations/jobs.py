"""The automation jobs: the dispatcher (periodic) and one job per action."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.automations.dispatch import DISPATCH_JOB, dispatch
from payrequest.automations.execution import ACTION_JOB, ACTION_MAX_ATTEMPTS, Services, perform
from payrequest.jobs.context import current_job
from payrequest.jobs.handlers import JobHandlers

DISPATCH_EVERY = timedelta(seconds=1)
ACTION_TIMEOUT = timedelta(seconds=40)


def install(handlers: JobHandlers, services: Services) -> None:
    @handlers.periodic(DISPATCH_JOB, every=DISPATCH_EVERY)
    async def dispatch_events(session: AsyncSession, _payload: dict[str, Any]) -> None:
        await dispatch(session, urls=services.urls)

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
