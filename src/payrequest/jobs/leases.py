"""The SQL of the lease protocol: claim, complete, fail, release, reap. No commits here.

A claimed job is `running` with `locked_by` = the worker and `locked_until` = the lease end.
Every later write is guarded by (locked_by, attempts) still being what the claim set, so a
worker whose lease expired, and whose job another worker re-claimed, changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.jobs.models import Job

LAST_ERROR_LENGTH = 2000
LOST_WORKER_ERROR = "lease expired on the last attempt: the worker running it was lost"


@dataclass(frozen=True)
class Claimed:
    """A job this worker holds the lease on."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int  # including the run that is starting
    max_attempts: int
    run_at: datetime

    @property
    def last_attempt(self) -> bool:
        return self.attempts >= self.max_attempts


def _due(due_before: datetime) -> ColumnElement[bool]:
    """Queued and due. Expired leases are put back in the queue by `reap`, so this stays one
    range on the partial index `ix_jobs_queued_run_at` however long the backlog is."""
    return and_(Job.status == "queued", Job.run_at <= due_before)


async def claim(
    session: AsyncSession,
    *,
    worker_id: str,
    kinds: Sequence[str],
    limit: int,
    now: datetime,
    lease: timedelta,
    due_before: datetime | None = None,
) -> list[Claimed]:
    """Take up to `limit` due jobs (oldest run_at first): one UPDATE ... RETURNING.

    PostgreSQL: the inner SELECT takes row locks with SKIP LOCKED, so concurrent workers pass
    over each other's rows instead of queueing behind them. SQLite: the UPDATE holds the
    database's single write lock from start to end, so two workers never see the same row.
    The outer WHERE repeats the due condition as a guard either way.
    """
    if limit <= 0 or not kinds:
        return []
    due = _due(due_before or now)
    # A materialized CTE runs the locking SELECT exactly once. As `id IN (subquery)`, PostgreSQL
    # may plan a semi join that re-runs the LIMIT ... SKIP LOCKED subquery per row and so
    # claims far more than `limit` rows.
    candidates = (
        select(Job.id)
        .where(due, Job.kind.in_(kinds))
        .order_by(Job.run_at, Job.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("candidates")
        .prefix_with("MATERIALIZED")
    )
    statement = (
        update(Job)
        .where(Job.id == candidates.c.id, due)
        .values(
            status="running",
            locked_by=worker_id,
            locked_until=now + lease,
            attempts=Job.attempts + 1,
            updated_at=now,
        )
        .returning(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts, Job.run_at)
        .execution_options(synchronize_session=False)
    )
    rows = (await session.execute(statement)).all()
    claimed = [Claimed(*row) for row in rows]
    return sorted(claimed, key=lambda job: (job.run_at, job.id))


def _held(job: Claimed, worker_id: str) -> ColumnElement[bool]:
    return and_(
        Job.id == job.id,
        Job.status == "running",
        Job.locked_by == worker_id,
        Job.attempts == job.attempts,
    )


async def _guarded_update(
    session: AsyncSession, job: Claimed, worker_id: str, **values: Any
) -> bool:
    statement = (
        update(Job)
        .where(_held(job, worker_id))
        .values(**values)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).first() is not None


async def complete(session: AsyncSession, *, job: Claimed, worker_id: str, now: datetime) -> bool:
    """Mark done if this worker still holds the lease; False means the lease was lost."""
    return await _guarded_update(
        session, job, worker_id, status="done", locked_until=None, finished_at=now, updated_at=now
    )


async def fail(
    session: AsyncSession,
    *,
    job: Claimed,
    worker_id: str,
    now: datetime,
    error: str,
    retry_at: datetime | None,
) -> bool:
    """Back to `queued` at `retry_at`, or `dead` when `retry_at` is None. Keeps the error."""
    values: dict[str, Any] = {
        "locked_by": None,
        "locked_until": None,
        "last_error": error[:LAST_ERROR_LENGTH],
        "updated_at": now,
    }
    if retry_at is None:
        values.update(status="dead", finished_at=now)
    else:
        values.update(status="queued", run_at=retry_at)
    return await _guarded_update(session, job, worker_id, **values)


async def release(session: AsyncSession, *, job: Claimed, worker_id: str, now: datetime) -> bool:
    """Give a job back untried (worker shutting down): due now, the attempt not counted."""
    return await _guarded_update(
        session,
        job,
        worker_id,
        status="queued",
        run_at=now,
        attempts=Job.attempts - 1,
        locked_by=None,
        locked_until=None,
        updated_at=now,
    )


async def reap(session: AsyncSession, *, now: datetime) -> int:
    """Expired leases go back to the queue, or, on their last attempt, become dead letters.

    A job whose handler kills its worker (out of memory, segfault) would otherwise be
    re-claimed forever, since only a finished run records a failure. Requeued jobs keep their
    attempt count and `run_at`, so they are taken first; the lost worker's late writes are
    refused by the (locked_by, attempts) guard. Returns how many became dead letters.
    """
    requeue = (
        update(Job)
        .where(Job.status == "running", Job.locked_until < now, Job.attempts < Job.max_attempts)
        .values(status="queued", locked_by=None, locked_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(requeue)
    statement = (
        update(Job)
        .where(
            Job.status == "running",
            Job.locked_until < now,
            Job.attempts >= Job.max_attempts,
        )
        .values(
            status="dead",
            locked_by=None,
            locked_until=None,
            last_error=LOST_WORKER_ERROR,
            finished_at=now,
            updated_at=now,
        )
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return len((await session.execute(statement)).all())
