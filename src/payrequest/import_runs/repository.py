"""Import runs: queued by `start` (with the job that performs it, payrequest.imports.runs),
read for the pages, moved on by the job."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.import_runs.models import ImportRun
from payrequest.jobs import queue
from payrequest.kit.clock import utcnow

JOB = "imports.run"
RECENT = 10  # runs listed beside the upload form


async def start(
    session: AsyncSession,
    *,
    kind: str,
    file_name: str,
    upload_token: str,
    size: int,
    dry_run: bool,
    actor_id: int | None,
) -> ImportRun:
    """A run of the uploaded file, queued for the worker (committed with the caller's
    transaction)."""
    run = ImportRun(
        kind=kind,
        file_name=file_name,
        upload_token=upload_token,
        dry_run=dry_run,
        status="queued",
        rows_done=0,
        bytes_read=0,
        bytes_total=size,
        created_by=actor_id,
    )
    session.add(run)
    await session.flush()
    await queue.enqueue(session, kind=JOB, payload={"run_id": run.id})
    return run


async def find(session: AsyncSession, run_id: int) -> ImportRun | None:
    run: ImportRun | None = await session.get(ImportRun, run_id)
    return run


async def recent(session: AsyncSession, limit: int = RECENT) -> Sequence[ImportRun]:
    """The organisation's latest runs, newest first."""
    return (
        await session.scalars(select(ImportRun).order_by(ImportRun.id.desc()).limit(limit))
    ).all()


async def begin(session: AsyncSession, run_id: int) -> ImportRun | None:
    """Mark the run running (locked); None when it has ended already (or is not there)."""
    run = await session.get(ImportRun, run_id, with_for_update=True)
    if run is None or run.status in ("done", "failed"):
        return None
    run.status, run.started_at = "running", run.started_at or utcnow()
    return run


async def note_progress(session: AsyncSession, run_id: int, *, rows: int, bytes_read: int) -> None:
    await _set(session, run_id, rows_done=rows, bytes_read=bytes_read)


async def finish(session: AsyncSession, run_id: int, *, report: dict[str, Any], rows: int) -> None:
    await _set(session, run_id, status="done", report=report, rows_done=rows, finished_at=utcnow())


async def fail(session: AsyncSession, run_id: int, *, failure: str) -> None:
    await _set(session, run_id, status="failed", failure=failure, finished_at=utcnow())


async def _set(session: AsyncSession, run_id: int, **values: object) -> None:
    await session.execute(update(ImportRun).where(ImportRun.id == run_id).values(**values))
