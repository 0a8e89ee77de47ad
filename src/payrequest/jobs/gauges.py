"""The job queue as `/metrics` shows it: per kind, jobs queued, due, running and dead, and how
late the oldest due job is. Two grouped queries over the unfinished jobs (indexed by status)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.jobs.models import Job
from payrequest.observability.database import QueueKind


async def queue_by_kind(session: AsyncSession, *, now: datetime) -> dict[str, QueueKind]:
    counts: dict[str, dict[str, int]] = {}
    rows = await session.execute(
        select(Job.kind, Job.status, func.count())
        .where(Job.status.in_(("queued", "running", "dead")))
        .group_by(Job.kind, Job.status)
    )
    for kind, status, n in rows:
        counts.setdefault(str(kind), {})[str(status)] = int(n)
    due_rows = await session.execute(
        select(Job.kind, func.count(), func.min(Job.run_at))
        .where(Job.status == "queued", Job.run_at <= now)
        .group_by(Job.kind)
    )
    due = {str(kind): (int(n), oldest) for kind, n, oldest in due_rows}
    result: dict[str, QueueKind] = {}
    for kind in sorted(set(counts) | set(due)):
        n_due, oldest = due.get(kind, (0, None))
        by_status = counts.get(kind, {})
        result[kind] = QueueKind(
            queued=by_status.get("queued", 0),
            due=n_due,
            running=by_status.get("running", 0),
            dead=by_status.get("dead", 0),
            oldest_due_age_seconds=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
        )
    return result
