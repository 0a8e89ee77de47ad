"""Read models of the job queue for the operations page: jobs per kind and status, and the
jobs that failed and will be tried again."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.jobs.models import JOB_STATUSES, Job


async def counts_by_kind(session: AsyncSession) -> dict[str, dict[str, int]]:
    """{kind: {status: n}} with every status present, kinds in name order."""
    rows = await session.execute(
        select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)
    )
    table: dict[str, dict[str, int]] = {}
    for kind, job_status, n in rows:
        table.setdefault(str(kind), dict.fromkeys(JOB_STATUSES, 0))[str(job_status)] = int(n)
    return dict(sorted(table.items()))


async def failing(session: AsyncSession, *, limit: int) -> list[Job]:
    """Jobs still queued after failing at least once (they will be tried again), the next
    due first."""
    stmt = (
        select(Job)
        .where(Job.status == "queued", Job.attempts > 0, Job.last_error.is_not(None))
        .order_by(Job.run_at)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())
