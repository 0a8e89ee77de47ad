"""The SQL of the lease protocol: claim, complete, fail, release, reap. No commits here.

A claimed job is `running` with `locked_by` = the worker and `locked_until` = the lease end.
Every later write is guarded by (locked_by, attempts) still being what the claim set, so a
worker whose lease expired, and whose job another worker re-claimed, changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Table,
    Update,
    and_,
    bindparam,
    literal_column,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from payrequest.db.types import UTCDateTime
from payrequest.jobs.models import JOB_STATUSES, Job

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
    organisation_id: int | None  # the business it acts for; None: the installation's own

    @property
    def last_attempt(self) -> bool:
        return self.attempts >= self.max_attempts


JOBS = cast(Table, Job.__table__)  # Core statements on the table: no ORM bookkeeping per job
_c = JOBS.c

# CLAIM and COMPLETE are built once with named parameters: SQLAlchemy memoizes their cache
# keys, so running one costs a compiled-cache lookup, not a statement build. Clock values are
# bound from Python (the worker's clock), never the database's now().

# The limit is written into the SQL at execution (one prepared statement per limit): a generic
# plan that knows the limit joins the few candidates by primary key instead of hashing every
# due row.
_LIMIT = bindparam("limit", type_=Integer, literal_execute=True)
_DUE_BEFORE = bindparam("due_before", type_=UTCDateTime())
_NOW = bindparam("now", type_=UTCDateTime())


def _status(name: str) -> ColumnElement[str]:
    """A status written into the SQL, not bound: a prepared statement's generic plan can then
    still use the partial index on `status = 'queued'`."""
    assert name in JOB_STATUSES
    return literal_column(f"'{name}'", String)


def _due() -> ColumnElement[bool]:
    """Queued and due. Expired leases are put back in the queue by `reap`, so this stays one
    range on the partial index `ix_jobs_queued_run_at` however long the backlog is."""
    return and_(_c.status == _status("queued"), _c.run_at <= _DUE_BEFORE)


def _claim_statement(*, one_organisation: bool = False) -> Update:
    # A materialized CTE runs the locking SELECT exactly once. As `id IN (subquery)`, PostgreSQL
    # may plan a semi join that re-runs the LIMIT ... SKIP LOCKED subquery per row and so
    # claims far more than `limit` rows.
    due = _due()
    if one_organisation:
        due = and_(due, _c.organisation_id.is_not_distinct_from(bindparam("organisation")))
    candidates = (
        select(_c.id)
        .where(due, _c.kind.in_(bindparam("kinds", expanding=True)))
        .order_by(_c.run_at, _c.id)
        .limit(_LIMIT)
        .with_for_update(skip_locked=True)
        .cte("candidates")
        .prefix_with("MATERIALIZED")
    )
    return (
        update(JOBS)
        .where(_c.id == candidates.c.id, _due())
        .values(
            status=_status("running"),
            locked_by=bindparam("worker_id"),
            locked_until=bindparam("lease_until", type_=UTCDateTime()),
            attempts=_c.attempts + 1,
            updated_at=_NOW,
        )
        .returning(
            _c.id,
            _c.kind,
            _c.payload,
            _c.attempts,
            _c.max_attempts,
            _c.run_at,
            _c.organisation_id,
        )
    )


CLAIM = _claim_statement()
CLAIM_FOR_ONE = _claim_statement(one_organisation=True)  # the fair claim's, per organisation
# The organisations (NULL: the installation's own jobs) with due jobs of these kinds.
WAITING_ORGANISATIONS = (
    select(_c.organisation_id)
    .where(_due(), _c.kind.in_(bindparam("kinds", expanding=True)))
    .group_by(_c.organisation_id)
)

# The lease guard of every write after the claim. (Parameter names must not be column names:
# Core would read those as SET values.)
_HELD = and_(
    _c.id == bindparam("job_id"),
    _c.status == _status("running"),
    _c.locked_by == bindparam("worker_id"),
    _c.attempts == bindparam("held_attempts"),
)

COMPLETE = (
    update(JOBS)
    .where(_HELD)
    .values(status=_status("done"), locked_until=None, finished_at=_NOW, updated_at=_NOW)
    .returning(_c.id)
)

# COMPLETE for many jobs at once: the same guard, (id, attempts) pairs in one list.
COMPLETE_MANY = (
    update(JOBS)
    .where(
        tuple_(_c.id, _c.attempts).in_(bindparam("held", expanding=True)),
        _c.status == _status("running"),
        _c.locked_by == bindparam("worker_id"),
    )
    .values(status=_status("done"), locked_until=None, finished_at=_NOW, updated_at=_NOW)
    .returning(_c.id)
)


async def claim(
    executor: AsyncSession | AsyncConnection,
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
    The outer WHERE repeats the due condition as a guard either way. One statement, so it may
    run in a transaction of its own (autocommit): it claims all of its rows or none.
    """
    if limit <= 0 or not kinds:
        return []
    params = {
        "kinds": list(kinds),
        "limit": limit,
        "due_before": due_before or now,
        "worker_id": worker_id,
        "lease_until": now + lease,
        "now": now,
    }
    rows = (await executor.execute(CLAIM, params)).all()
    claimed = [Claimed(*row) for row in rows]
    if len(claimed) > 1:
        claimed.sort(key=lambda job: (job.run_at, job.id))
    return claimed


async def claim_fairly(
    executor: AsyncSession | AsyncConnection,
    *,
    worker_id: str,
    kinds: Sequence[str],
    limit: int,
    now: datetime,
    lease: timedelta,
    turn: int = 0,
    due_before: datetime | None = None,
    waiting: Sequence[int | None] | None = None,
) -> list[Claimed]:
    """`claim`, shared between the organisations waiting: each gets an equal part of `limit`
    (what one leaves unused goes to the next), starting at the `turn`-th so that the odd slot
    goes round. One business's backlog of thousands then never holds up another's single job:
    that job is claimed in the next claim with a free slot, whatever the backlog's age.

    Costs one more statement (the waiting organisations, read from the due rows) and one
    claim per organisation: the worker uses it only while a lane has more due jobs than free
    slots. `waiting`: the organisations `waiting_organisations` just found, if the caller
    asked already."""
    if limit <= 0 or not kinds:
        return []
    due = due_before or now
    if waiting is None:
        waiting = await waiting_organisations(executor, kinds=kinds, due_before=due)
    waiting = list(waiting)
    if len(waiting) <= 1:
        return await claim(
            executor,
            worker_id=worker_id,
            kinds=kinds,
            limit=limit,
            now=now,
            lease=lease,
            due_before=due_before,
        )
    waiting.sort(key=lambda organisation: (organisation is not None, organisation or 0))
    start = turn % len(waiting)
    order = waiting[start:] + waiting[:start]
    claimed: list[Claimed] = []
    for position, organisation in enumerate(order):
        left = limit - len(claimed)
        if left <= 0:
            break
        share = max(1, -(-left // (len(order) - position)))  # the rest, split evenly
        params = {
            "kinds": list(kinds),
            "limit": share,
            "due_before": due,
            "worker_id": worker_id,
            "lease_until": now + lease,
            "now": now,
            "organisation": organisation,
        }
        rows = (await executor.execute(CLAIM_FOR_ONE, params)).all()
        claimed += [Claimed(*row) for row in rows]
    claimed.sort(key=lambda job: (job.run_at, job.id))
    return claimed


async def waiting_organisations(
    executor: AsyncSession | AsyncConnection, *, kinds: Sequence[str], due_before: datetime
) -> list[int | None]:
    """The organisations (None: the installation's own jobs) with jobs of `kinds` due."""
    found = await executor.execute(
        WAITING_ORGANISATIONS, {"kinds": list(kinds), "due_before": due_before}
    )
    return list(found.scalars().all())


async def renew(
    session: AsyncSession, *, job_ids: Sequence[int], worker_id: str, until: datetime
) -> int:
    """Extend this worker's leases on `job_ids` to `until` (a lease already taken over by
    another worker is left alone). Returns how many were extended."""
    statement = (
        update(JOBS)
        .where(
            _c.id.in_(list(job_ids)),
            _c.status == _status("running"),
            _c.locked_by == worker_id,
        )
        .values(locked_until=until)
        .returning(_c.id)
    )
    return len((await session.execute(statement)).all())


def _held(job: Claimed, worker_id: str) -> dict[str, Any]:
    return {"job_id": job.id, "worker_id": worker_id, "held_attempts": job.attempts}


async def _guarded_update(
    session: AsyncSession, job: Claimed, worker_id: str, **values: Any
) -> bool:
    statement = update(JOBS).where(_HELD).values(**values).returning(_c.id)
    return (await session.execute(statement, _held(job, worker_id))).first() is not None


async def complete(session: AsyncSession, *, job: Claimed, worker_id: str, now: datetime) -> bool:
    """Mark done if this worker still holds the lease; False means the lease was lost."""
    params = _held(job, worker_id)
    params["now"] = now
    return (await session.execute(COMPLETE, params)).first() is not None


async def complete_many(
    executor: AsyncSession | AsyncConnection,
    *,
    jobs: Sequence[Claimed],
    worker_id: str,
    now: datetime,
) -> set[int]:
    """Mark done, in one statement, those of `jobs` whose lease this worker still holds;
    returns their ids (a job missing from it had lost its lease). One statement: it may run in
    a transaction of its own (autocommit)."""
    if not jobs:
        return set()
    params = {
        "held": [(job.id, job.attempts) for job in jobs],
        "worker_id": worker_id,
        "now": now,
    }
    return set((await executor.execute(COMPLETE_MANY, params)).scalars().all())


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
