"""The job that performs an import run (payrequest.import_runs): it runs the import
(imports.run), writing how far it has got after each batch, and keeps the report with the run.

A run is done once: the job runs again only if a try broke off (a worker killed, the database
gone for a moment), and the import is idempotent by `external_id`, so the second try finds what
the first wrote as unchanged. When the last try breaks off, the run is marked failed.
Reading the upload needs the worker to see the web process's files: the same `var_dir` (one
machine, or a shared volume; docs/deployment.md)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.db.scope import scoped_to
from payrequest.import_runs import repository as import_runs
from payrequest.import_runs.models import ImportRun
from payrequest.imports.records import Kind
from payrequest.imports.run import Progress, run_import
from payrequest.imports.stored import report_to_json
from payrequest.imports.uploads import Upload, Uploads
from payrequest.jobs.context import current_job

logger = logging.getLogger(__name__)

Sessions = async_sessionmaker[AsyncSession]


async def start(
    session: AsyncSession, *, upload: Upload, dry_run: bool, actor_id: int | None
) -> ImportRun:
    """Queue a run of `upload` for the worker (committed with the caller's transaction)."""
    return await import_runs.start(
        session,
        kind=upload.kind,
        file_name=upload.name,
        upload_token=upload.token,
        size=upload.path.stat().st_size,
        dry_run=dry_run,
        actor_id=actor_id,
    )


async def perform(
    sessions: Sessions, uploads: Uploads, kinds: Mapping[str, Kind], *, run_id: int
) -> None:
    """Run the import of run `run_id`, unless it has ended already."""
    async with sessions() as session, session.begin():
        run = await import_runs.begin(session, run_id)
        if run is None:
            return
        organisation_id, token, kind = run.organisation_id, run.upload_token, run.kind
        dry_run, actor_id = run.dry_run, run.created_by
    own = scoped_to(organisation_id)
    upload = uploads.find(organisation_id, token)
    if upload is None:
        async with sessions(info=own) as session, session.begin():
            await import_runs.fail(session, run_id, failure="upload_gone")
        return

    async def progress(done: Progress) -> None:
        async with sessions(info=own) as session, session.begin():
            await import_runs.note_progress(
                session, run_id, rows=done.rows, bytes_read=done.bytes_read
            )

    try:
        with upload.open() as source:
            report = await run_import(
                sessions,
                kind=kinds[kind],
                source=source,
                organisation_id=organisation_id,
                dry_run=dry_run,
                actor_id=actor_id,
                on_progress=progress,
            )
    except Exception:
        job = current_job()
        if job.attempt < job.max_attempts:
            raise
        logger.exception("import run %s broke off on its last try", run_id)
        async with sessions(info=own) as session, session.begin():
            await import_runs.fail(session, run_id, failure="broke_off")
        return
    async with sessions(info=own) as session, session.begin():
        await import_runs.finish(session, run_id, report=report_to_json(report), rows=report.rows)
    if not dry_run:
        uploads.remove(upload)
