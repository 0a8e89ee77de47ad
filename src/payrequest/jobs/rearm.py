"""One job row per key that is queued again each time it is needed (a request's poll).

`queue.enqueue` with a dedupe key runs a key once for as long as its row exists; a recurring
job of one subject would leave a row per run. `enqueue_or_rearm` keeps one row per key: it
inserts it, or puts a finished (done or dead) row back in the queue with fresh attempts. A
row still queued or running is left as it is: that run does the work.

The job acts for `organisation_id`, by default the one the session acts for; a session acting
for all organisations (a periodic job handing out work) names the organisation of the subject.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.db.dialect import insert_for
from payrequest.db.pg_notify import JOBS_CHANNEL, notify
from payrequest.db.scope import scope_of
from payrequest.jobs.models import Job
from payrequest.kit.clock import utcnow

FINISHED = ("done", "dead")


async def enqueue_or_rearm(
    session: AsyncSession,
    *,
    kind: str,
    payload: dict[str, Any],
    dedupe_key: str,
    max_attempts: int,
    run_at: datetime | None = None,
    organisation_id: int | None = None,
) -> bool:
    """Queue the job of `dedupe_key` at `run_at` (default now); False if it was already
    queued or running."""
    now = utcnow()
    due = run_at or now
    fresh = {
        "status": "queued",
        "run_at": due,
        "attempts": 0,
        "max_attempts": max_attempts,
        "payload": payload,
        "locked_by": None,
        "locked_until": None,
        "last_error": None,
        "finished_at": None,
        "updated_at": now,
    }
    insert = insert_for(session)
    statement = (
        insert(Job)
        .values(
            kind=kind,
            dedupe_key=dedupe_key,
            created_at=now,
            organisation_id=organisation_id or _own_organisation(session),
            **fresh,
        )
        .on_conflict_do_update(
            index_elements=[Job.dedupe_key], set_=fresh, where=Job.status.in_(FINISHED)
        )
        .returning(Job.id)
    )
    job_id = (await session.execute(statement)).scalar_one_or_none()
    if job_id is not None and due <= now:
        await notify(session, JOBS_CHANNEL, job_id)
    return job_id is not None


def _own_organisation(session: AsyncSession) -> int | None:
    scope = scope_of(session.sync_session)
    return scope if isinstance(scope, int) else None
