"""The import's job (imports.runs.perform). The runtime cannot register it (this package sits
above it: an import writes through the commands), so the entry points that run a worker add
it: `payrequest.app.create_app` and `payrequest worker`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.import_runs.repository import JOB
from payrequest.imports import runs
from payrequest.imports.kinds import KINDS
from payrequest.imports.uploads import Uploads
from payrequest.jobs.handlers import JobHandlers

# 100,000 rows take about a quarter of an hour (docs/benchmarks.md, P11); a try that runs past
# this is stopped and the run tried again.
TIMEOUT = timedelta(hours=2)
ATTEMPTS = 3


def install(
    handlers: JobHandlers, *, sessions: async_sessionmaker[AsyncSession], uploads: Uploads
) -> None:
    """Register the job once (a second call, for a runtime already given it, does nothing)."""
    if JOB in handlers:
        return

    @handlers.job(JOB, max_attempts=ATTEMPTS, timeout=TIMEOUT)
    async def run(_session: AsyncSession, payload: dict[str, Any]) -> None:
        await runs.perform(sessions, uploads, KINDS, run_id=int(payload["run_id"]))
