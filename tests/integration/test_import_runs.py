"""Imports run by the worker (imports.runs, import_runs): performed once, with their progress
and report kept; a run whose file is gone fails plainly; a try that breaks off is retried, the
last one marks the run failed. SQLite and PostgreSQL."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest import i18n
from payrequest.customers.models import Customer
from payrequest.import_runs import repository as import_runs
from payrequest.import_runs.models import ImportRun
from payrequest.imports import runs
from payrequest.imports.customers import CUSTOMERS
from payrequest.imports.kinds import KINDS
from payrequest.imports.records import Kind
from payrequest.imports.stored import report_from_json
from payrequest.imports.uploads import Upload, Uploads
from payrequest.jobs.context import JobContext, set_current_job
from payrequest.kit.upserted import Upserted
from tests.conftest import TEST_ORGANISATION

Sessions = async_sessionmaker[AsyncSession]
FILE = (
    "external_id;name;email\n"
    "K-1;Fjord Rør AS;post@fjord.no\n"
    "K-2;Bager Hansen ApS;not an address\n"  # row 3: refused
    "K-3;Lysverket AS;lys@verket.no\n"
)


def _upload(tmp_path: Path) -> tuple[Uploads, Upload]:
    uploads = Uploads.under(tmp_path)
    saved = uploads.save(
        TEST_ORGANISATION, kind="customers", name="kunder.csv", source=io.BytesIO(FILE.encode())
    )
    return uploads, saved


async def _start(sessions: Sessions, upload: Upload, *, dry_run: bool = False) -> int:
    async with sessions() as session, session.begin():
        run = await runs.start(session, upload=upload, dry_run=dry_run, actor_id=None)
        return run.id


async def _run(sessions: Sessions, run_id: int) -> ImportRun:
    async with sessions() as session:
        run = await import_runs.find(session, run_id)
        assert run is not None
        return run


async def _customers(sessions: Sessions) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(Customer))).scalar_one())


async def test_a_run_is_performed_once_with_its_progress_and_report_kept(
    sessions: Sessions, tmp_path: Path
) -> None:
    uploads, upload = _upload(tmp_path)
    run_id = await _start(sessions, upload)
    queued = await _run(sessions, run_id)
    assert (queued.status, queued.rows_done, queued.bytes_total) == (
        "queued",
        0,
        len(FILE.encode()),
    )
    set_current_job(JobContext(1, import_runs.JOB, 1, 3, "test"))

    await runs.perform(sessions, uploads, KINDS, run_id=run_id)

    done = await _run(sessions, run_id)
    assert done.status == "done" and done.failure is None and done.finished_at is not None
    assert (done.rows_done, done.bytes_read) == (3, done.bytes_total)
    assert done.report is not None
    report = report_from_json(done.report)
    assert (report.created, report.updated, report.unchanged, report.failed_rows) == (2, 0, 0, 1)
    [refused] = report.errors
    assert (refused.row, refused.column) == (3, "email")
    assert "e-post" in i18n.error_text("nb", refused.error).lower()
    assert await _customers(sessions) == 2
    assert uploads.find(TEST_ORGANISATION, upload.token) is None  # imported: the file is gone

    await runs.perform(sessions, uploads, KINDS, run_id=run_id)  # the job again: nothing

    again = await _run(sessions, run_id)
    assert (again.status, again.report, again.finished_at) == (
        "done",
        done.report,
        done.finished_at,
    )
    assert await _customers(sessions) == 2


async def test_a_dry_run_writes_nothing_and_keeps_the_file(
    sessions: Sessions, tmp_path: Path
) -> None:
    uploads, upload = _upload(tmp_path)
    run_id = await _start(sessions, upload, dry_run=True)
    set_current_job(JobContext(1, import_runs.JOB, 1, 3, "test"))

    await runs.perform(sessions, uploads, KINDS, run_id=run_id)

    run = await _run(sessions, run_id)
    assert run.report is not None and report_from_json(run.report).created == 2
    assert await _customers(sessions) == 0
    assert uploads.find(TEST_ORGANISATION, upload.token) is not None


async def test_a_run_whose_file_is_gone_fails_plainly(sessions: Sessions, tmp_path: Path) -> None:
    uploads, upload = _upload(tmp_path)
    run_id = await _start(sessions, upload)
    uploads.remove(upload)  # kept a day only, or on another machine than the worker's

    await runs.perform(sessions, uploads, KINDS, run_id=run_id)

    run = await _run(sessions, run_id)
    assert (run.status, run.failure, run.report) == ("failed", "upload_gone", None)


class _Breaking:
    """The customers' import, with a database that goes away at the first write."""

    def __getattr__(self, name: str) -> Any:
        return getattr(CUSTOMERS, name)

    async def upsert(self, session: AsyncSession, data: Any, actor_id: int | None) -> Upserted[Any]:
        raise ConnectionResetError("the database went away")


@pytest.mark.parametrize(("attempt", "retried"), [(1, True), (2, True), (3, False)])
async def test_a_try_that_breaks_off_is_retried_and_the_last_one_fails_the_run(
    sessions: Sessions, tmp_path: Path, attempt: int, retried: bool
) -> None:
    uploads, upload = _upload(tmp_path)
    run_id = await _start(sessions, upload)
    breaking: dict[str, Kind] = {"customers": _Breaking()}
    set_current_job(JobContext(1, import_runs.JOB, attempt, 3, "test"))

    if retried:
        with pytest.raises(ConnectionResetError):
            await runs.perform(sessions, uploads, breaking, run_id=run_id)
    else:
        await runs.perform(sessions, uploads, breaking, run_id=run_id)

    run = await _run(sessions, run_id)
    assert (run.status, run.failure) == (("running", None) if retried else ("failed", "broke_off"))
    assert uploads.find(TEST_ORGANISATION, upload.token) is not None  # kept for a try again
