"""Housekeeping: finished jobs are deleted after a day (the poller and the automation
dispatcher alone add one each per second)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.jobs import queue
from payrequest.jobs.handlers import JobHandlers

PURGE_JOB = "jobs.purge"
KEEP_DONE = timedelta(days=1)


def install(handlers: JobHandlers) -> None:
    @handlers.periodic(PURGE_JOB, every=timedelta(minutes=10))
    async def purge(session: AsyncSession, _payload: dict[str, Any]) -> None:
        await queue.purge_done(session, older_than=KEEP_DONE)
