"""Operations: the webhook inbox, rejected signatures, and the job queue with its dead letters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.errors import PayrequestError
from payrequest.inbound.models import INBOX_STATUSES, InboundEvent
from payrequest.jobs import queue
from payrequest.jobs.models import JOB_STATUSES, Job
from payrequest.kit.clock import utcnow
from payrequest.payment_requests.models import PaymentRequest
from payrequest.ratelimit import service as ratelimit
from payrequest.web import i18n
from payrequest.web.auth import WRITERS, StaffUser, Writer
from payrequest.web.deps import ReadSessionDep, RuntimeDep
from payrequest.web.flash import flash
from payrequest.web.nudge import wake
from payrequest.web.render import render
from payrequest.web.webhooks import REJECTED_KEY

router = APIRouter()
INBOX_ROWS = 50
JOB_ROWS = 50
REJECTED_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class InboxRow:
    event: InboundEvent
    request_id: int | None  # the payment request with this reference, if there is one


@dataclass(frozen=True, slots=True)
class JobRow:
    job: Job
    payload: str  # compact JSON for display


async def inbox_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(InboundEvent.status, func.count()).group_by(InboundEvent.status)
    )
    counts = dict.fromkeys(INBOX_STATUSES, 0)
    counts.update({str(name): int(n) for name, n in rows})
    return counts


async def inbox_rows(session: AsyncSession, *, status_filter: str | None) -> list[InboxRow]:
    stmt = (
        select(InboundEvent, PaymentRequest.id)
        .outerjoin(PaymentRequest, PaymentRequest.reference == InboundEvent.reference)
        .order_by(InboundEvent.id.desc())
        .limit(INBOX_ROWS)
    )
    if status_filter is not None:
        stmt = stmt.where(InboundEvent.status == status_filter)
    return [InboxRow(event, request_id) for event, request_id in (await session.execute(stmt))]


async def jobs_by_kind(session: AsyncSession) -> dict[str, dict[str, int]]:
    """{kind: {status: n}} with every status present, kinds in name order."""
    rows = await session.execute(
        select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)
    )
    table: dict[str, dict[str, int]] = {}
    for kind, job_status, n in rows:
        table.setdefault(str(kind), dict.fromkeys(JOB_STATUSES, 0))[str(job_status)] = int(n)
    return dict(sorted(table.items()))


async def failing_jobs(session: AsyncSession) -> list[Job]:
    """Jobs still queued after failing at least once: they will be tried again."""
    stmt = (
        select(Job)
        .where(Job.status == "queued", Job.attempts > 0, Job.last_error.is_not(None))
        .order_by(Job.run_at)
        .limit(JOB_ROWS)
    )
    return list((await session.scalars(stmt)).all())


def _rows(jobs: list[Job]) -> list[JobRow]:
    return [
        JobRow(job, json.dumps(job.payload, ensure_ascii=False, sort_keys=True)) for job in jobs
    ]


async def operations_context(session: AsyncSession, *, status_filter: str | None) -> dict[str, Any]:
    return {
        "inbox_counts": await inbox_counts(session),
        "inbox": await inbox_rows(session, status_filter=status_filter),
        "inbox_statuses": INBOX_STATUSES,
        "status_filter": status_filter or "",
        "rejected": await ratelimit.count(
            session, key=REJECTED_KEY, since=utcnow() - REJECTED_WINDOW
        ),
        "job_counts": await queue.count_by_status(session),
        "job_statuses": JOB_STATUSES,
        "jobs_by_kind": await jobs_by_kind(session),
        "failing": _rows(await failing_jobs(session)),
        "dead": _rows(list(await queue.list_jobs(session, status="dead", limit=JOB_ROWS))),
    }


@router.get("/operations", response_class=HTMLResponse)
async def operations(
    request: Request, user: StaffUser, session: ReadSessionDep, status_filter: str = ""
) -> HTMLResponse:
    chosen = status_filter if status_filter in INBOX_STATUSES else None
    return render(
        request,
        "operations/index.html",
        can_write=user.role in WRITERS,
        **await operations_context(session, status_filter=chosen),
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
