"""Operations: the webhook inbox, rejected signatures, and the job queue with its dead letters."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse

from payrequest.db.scope import ALL, scoped_to
from payrequest.errors import PayrequestError
from payrequest.inbound import read as inbox
from payrequest.inbound.models import INBOX_STATUSES
from payrequest.jobs import queue
from payrequest.jobs import read as jobs_read
from payrequest.jobs.models import JOB_STATUSES, Job
from payrequest.kit.clock import utcnow
from payrequest.ratelimit import service as ratelimit
from payrequest.web import i18n
from payrequest.web.auth import WRITERS, StaffUser, Writer
from payrequest.web.deps import AsyncSession, ReadSessionDep, RuntimeDep
from payrequest.web.flash import flash
from payrequest.web.nudge import wake
from payrequest.web.render import render
from payrequest.web.webhooks import FOREIGN_KEY, REJECTED_KEY

router = APIRouter()
INBOX_ROWS = 50
JOB_ROWS = 50
REJECTED_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class JobRow:
    job: Job
    payload: str  # compact JSON for display


def _rows(jobs: list[Job]) -> list[JobRow]:
    return [
        JobRow(job, json.dumps(job.payload, ensure_ascii=False, sort_keys=True)) for job in jobs
    ]


async def _refused(session: AsyncSession) -> dict[str, int]:
    """Refused webhooks of the last 24 h, counted in the session's organisation's buckets
    (its own connection's URL) or, acting for all, the installation's (its own URL)."""
    since = utcnow() - REJECTED_WINDOW
    return {
        "rejected": await ratelimit.count(session, key=REJECTED_KEY, since=since),
        "foreign": await ratelimit.count(session, key=FOREIGN_KEY, since=since),
    }


async def operations_context(
    session: AsyncSession, *, status_filter: str | None, installation: AsyncSession | None
) -> dict[str, Any]:
    """`installation`: a session acting for all organisations when the organisation's
    payments use the installation's connection, whose refusals it then sees too."""
    refused = await _refused(session)
    if installation is not None:
        for key, count in (await _refused(installation)).items():
            refused[key] += count
    return {
        "inbox_counts": await inbox.counts_by_status(session),
        "inbox": await inbox.newest(session, status=status_filter, limit=INBOX_ROWS),
        "inbox_statuses": INBOX_STATUSES,
        "status_filter": status_filter or "",
        **refused,
        "job_counts": await queue.count_by_status(session),
        "job_statuses": JOB_STATUSES,
        "jobs_by_kind": await jobs_read.counts_by_kind(session),
        "failing": _rows(await jobs_read.failing(session, limit=JOB_ROWS)),
        "dead": _rows(list(await queue.list_jobs(session, status="dead", limit=JOB_ROWS))),
    }


@router.get("/operations", response_class=HTMLResponse)
async def operations(
    request: Request,
    user: StaffUser,
    session: ReadSessionDep,
    runtime: RuntimeDep,
    status_filter: str = "",
) -> HTMLResponse:
    chosen = status_filter if status_filter in INBOX_STATUSES else None
    async with AsyncExitStack() as stack:
        installation = None
        if await runtime.directory.uses_installation(user.organisation_id):
            installation = await stack.enter_async_context(
                runtime.read_sessions(info=scoped_to(ALL))
            )
        shown = await operations_context(session, status_filter=chosen, installation=installation)
    return render(
        request,
        "operations/index.html",
        can_write=user.role in WRITERS,
        **shown,
    )


@router.post("/operations/jobs/{job_id}/retry")
async def retry_job(
    request: Request, user: Writer, runtime: RuntimeDep, job_id: int
) -> RedirectResponse:
    back = RedirectResponse("/operations#dead-letters", status_code=status.HTTP_303_SEE_OTHER)
    try:
        async with runtime.sessions() as session, session.begin():
            job = await queue.retry_dead(session, job_id=job_id)
            kind = job.kind
    except PayrequestError as exc:
        flash(request, i18n.error_text(exc), "error")
        return back
    wake(request)  # committed: let this process's worker take it now
    flash(
        request,
        i18n.gettext("Job {id} ({kind}) is queued again.").format(id=job_id, kind=kind),
    )
    return back
