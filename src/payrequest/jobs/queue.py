"""Putting jobs on the queue and looking at it. Service functions: session first, never commit.

Enqueue inside the caller's transaction: the job exists exactly when the caller's work commits.
After the commit, an in-process caller may call `Worker.notify()` to have it picked up at once;
on PostgreSQL the commit also NOTIFYs every worker process (once per transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.db.dialect import insert_for
from payrequest.db.pg_notify import JOBS_CHANNEL, notify
from payrequest.db.scope import scope_of
from payrequest.errors import Conflict, NotFound
from payrequest.jobs.models import JOB_STATUSES, Job
from payrequest.kit.clock import utcnow

DEFAULT_MAX_ATTEMPTS = 20
DEFAULT_LIST_LIMIT = 100
MAX_LIST_LIMIT = 1000


async def enqueue(
    session: AsyncSession,
    *,
    kind: str,
    payload: dict[str, Any],
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int | None = None,
    organisation_id: int | None = None,
) -> Job | None:
    """Add a job, due at `run_at` (default: now). Returns None if `dedupe_key` already exists.

    The job acts for `organisation_id`, by default the one the session acts for (none for
    work of the installation's own, enqueued by a session acting for all of them).

    A dedupe key is held as long as the job row exists (done rows too, until purged), so
    "capture:<reference>" enqueues one capture however often the caller asks.
    """
    now = utcnow()
    values = {
        "kind": kind,
        "payload": payload,
        "dedupe_key": dedupe_key,
        "status": "queued",
        "run_at": run_at or now,
        "attempts": 0,
        "max_attempts": DEFAULT_MAX_ATTEMPTS if max_attempts is None else max_attempts,
        "created_at": now,
        "updated_at": now,
        "organisation_id": organisation_id or _own_organisation(session),
    }
    insert = insert_for(session)
    statement = insert(Job).values(**values).returning(Job)
    if dedupe_key is not None:
        statement = statement.on_conflict_do_nothing(index_elements=[Job.dedupe_key])
    job: Job | None = (await session.scalars(statement)).one_or_none()
    if job is not None and (run_at is None or run_at <= now):  # a later job: polling finds it
        await notify(session, JOBS_CHANNEL, job.id)
    return job


def _own_organisation(session: AsyncSession) -> int | None:
    scope = scope_of(session.sync_session)
    return scope if isinstance(scope, int) else None


async def get_job(session: AsyncSession, *, job_id: int) -> Job:
    job = await session.get(Job, job_id)
    if job is None:
        raise NotFound("Job %(id)s does not exist", id=job_id)
    return job


async def retry_dead(session: AsyncSession, *, job_id: int, run_at: datetime | None = None) -> Job:
    """Put a dead letter back on the queue with a fresh set of attempts (the admin "Retry")."""
    job = (
        await session.scalars(select(Job).where(Job.id == job_id).with_for_update())
    ).one_or_none()
    if job is None:
        raise NotFound("Job %(id)s does not exist", id=job_id)
    if job.status != "dead":
        raise Conflict(
            "Job %(id)s is %(status)s; only a job that gave up can be retried",
            id=job_id,
            status=job.status,
        )
    now = utcnow()
    job.status = "queued"
    job.attempts = 0
    job.run_at = run_at or now
    job.locked_by = None
    job.locked_until = None
    job.finished_at = None
    job.updated_at = now
    await session.flush()
    return job


async def list_jobs(
    session: AsyncSession,
    *,
    status: str | None = None,
    kind: str | None = None,
    limit: int = DEFAULT_LIST_LIMIT,
) -> Sequence[Job]:
    """Newest first, for the operations page."""
    if status is not None and status not in JOB_STATUSES:
        raise ValueError(f"unknown job status {status!r}")
    query = select(Job).order_by(Job.id.desc()).limit(max(1, min(limit, MAX_LIST_LIMIT)))
    if status is not None:
        query = query.where(Job.status == status)
    if kind is not None:
        query = query.where(Job.kind == kind)
    return (await session.scalars(query)).all()


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    """{"queued": n, "running": n, "done": n, "dead": n}, every status present."""
    rows = await session.execute(select(Job.status, func.count()).group_by(Job.status))
    counts = dict.fromkeys(JOB_STATUSES, 0)
    counts.update({status: count for status, count in rows.all()})
    return counts


async def purge_done(session: AsyncSession, *, older_than: timedelta) -> int:
    """Delete done jobs finished more than `older_than` ago; dead letters stay for a person.

    Purging frees their dedupe keys: keep `older_than` longer than any window in which a
    caller might enqueue the same key again.
    """
    cutoff = utcnow() - older_than
    result = await session.execute(
        delete(Job)
        .where(Job.status == "done", Job.finished_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
