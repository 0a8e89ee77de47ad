"""Importing customers and invoices from a CSV file (docs/csv.md), for owners and staff: upload
(the file is kept on disk, imports.uploads), a preview of its first rows as they were read
and of every row the reading refuses, then a dry run or the import itself. Either runs in the
worker (imports.runs); its page follows the progress and then shows the report in the
reader's language. The upload form lists the latest runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile, status
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from payrequest.config import Settings
from payrequest.errors import N_
from payrequest.import_runs import repository as import_runs
from payrequest.import_runs.models import ImportRun
from payrequest.imports import runs
from payrequest.imports.customers import CUSTOMERS
from payrequest.imports.kinds import KIND_LABELS, KINDS
from payrequest.imports.preview import Preview, preview
from payrequest.imports.records import Kind, Record
from payrequest.imports.report import Report
from payrequest.imports.stored import report_from_json
from payrequest.imports.uploads import Upload, Uploads
from payrequest.kit.money import shared_minor_digits, to_major
from payrequest.web import i18n
from payrequest.web.auth import Writer, WriterRole
from payrequest.web.deps import ReadSessionDep, RuntimeDep, SettingsDep
from payrequest.web.flash import flash
from payrequest.web.nudge import wake
from payrequest.web.render import render

router = APIRouter()
STATUS_LABELS = {
    "queued": N_("Waiting"),
    "running": N_("Running"),
    "done": N_("Done"),
    "failed": N_("Failed"),
}
FAILURES = {
    "upload_gone": N_(
        "The uploaded file was not there when the import was to start (uploads are kept for a "
        "day); upload it again."
    ),
    "broke_off": N_(
        "The import broke off, three tries in a row. What it wrote before stays, and importing "
        "the file again changes nothing of that; try again, or tell whoever runs payrequest."
    ),
}


def _uploads(settings: Settings) -> Uploads:
    return Uploads.under(settings.var_dir)


def _found(settings: Settings, organisation_id: int, token: str) -> Upload:
    upload = _uploads(settings).find(organisation_id, token)
    if upload is None or upload.kind not in KINDS:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            i18n.gettext("This upload is gone (uploads are kept for a day); upload the file again"),
        )
    return upload


@router.get("/imports", response_class=HTMLResponse)
async def import_form(
    request: Request, user: WriterRole, session: ReadSessionDep, kind: str = ""
) -> HTMLResponse:
    """`kind`: what the list the staff member came from holds (preselected; any other is
    ignored)."""
    shown = [
        {
            "id": run.id,
            "created": i18n.moment(run.created_at),
            "file_name": run.file_name,
            "kind_label": KIND_LABELS[run.kind],
            "status": _status(run),
            "rows": i18n.number(run.rows_done),
        }
        for run in await import_runs.recent(session)
    ]
    return render(request, "imports/form.html", kinds=KIND_LABELS, chosen=kind, runs=shown)


def _status(run: ImportRun) -> str:
    if run.status == "done" and run.dry_run:
        return i18n.gettext("Dry run done")
    return i18n.gettext(STATUS_LABELS[run.status])


@router.post("/imports")
async def upload_file(
    request: Request,
    user: Writer,
    settings: SettingsDep,
    kind: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> RedirectResponse:
    if kind not in KINDS or file is None or not file.filename:
        flash(request, i18n.gettext("Choose what to import and a CSV file."), "error")
        return RedirectResponse("/imports", status_code=status.HTTP_303_SEE_OTHER)
    saved = await run_in_threadpool(
        _uploads(settings).save,
        user.organisation_id,
        kind=kind,
        name=file.filename,
        source=file.file,
    )
    return RedirectResponse(f"/imports/{saved.token}", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/imports/{token}", response_class=HTMLResponse)
async def preview_page(
    request: Request, user: WriterRole, settings: SettingsDep, token: str
) -> HTMLResponse:
    upload = _found(settings, user.organisation_id, token)
    kind = KINDS[upload.kind]
    with upload.open() as source:
        looked = await run_in_threadpool(preview, kind, source)
    return render(request, "imports/preview.html", **_page(upload, kind, looked.report, looked))


@router.post("/imports/{token}")
async def run_upload(
    request: Request,
    user: Writer,
    runtime: RuntimeDep,
    settings: SettingsDep,
    token: str,
    action: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Queue a dry run (any `action` but "import") or the import of the upload."""
    upload = _found(settings, user.organisation_id, token)
    async with runtime.sessions() as session, session.begin():
        run = await runs.start(session, upload=upload, dry_run=action != "import", actor_id=user.id)
        run_id = run.id
    wake(request)  # committed: this process's worker can take it now
    return RedirectResponse(f"/imports/runs/{run_id}", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/imports/runs/{run_id}", response_class=HTMLResponse)
async def run_page(
    request: Request, user: WriterRole, session: ReadSessionDep, settings: SettingsDep, run_id: int
) -> HTMLResponse:
    """How far the run has got (the page reloads itself until it ends), then its report."""
    run = await import_runs.find(session, run_id)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, i18n.gettext("No such import"))
    report = report_from_json(run.report) if run.report else Report(dry_run=run.dry_run)
    again = run.dry_run and _uploads(settings).find(user.organisation_id, run.upload_token)
    return render(
        request,
        "imports/run.html",
        run=run,
        run_ended=run.status in ("done", "failed"),
        kind_label=KIND_LABELS[run.kind],
        percent=i18n.percent(
            100 * (100 * run.bytes_read // run.bytes_total) if run.bytes_total else 0
        ),
        failure=i18n.gettext(FAILURES[run.failure]) if run.failure else "",
        finished=i18n.moment(run.finished_at),
        can_run_again=bool(again),
        **_reported(report),
    )


def _share_bp(part: int, whole: int) -> int:
    """`part` of `whole` in whole percent, as basis points."""
    return 100 * (100 * part // whole) if whole else 0


def _reported(report: Report) -> dict[str, Any]:
    return {
        "report": report,
        "file_error": i18n.error_text(report.file_error) if report.file_error else "",
        "problems": [
            (e.row, e.column or "", i18n.error_text(e.error), e.spans) for e in report.errors
        ],
    }


def _page(upload: Upload, kind: Kind, report: Report, looked: Preview) -> dict[str, Any]:
    return {
        "upload": upload,
        "kind_label": KIND_LABELS[upload.kind],
        "columns": _columns(kind),
        "rows": [row for record in looked.first for row in _shown(kind, record)],
        **_reported(report),
    }


def _columns(kind: Kind) -> tuple[str, ...]:
    if kind is CUSTOMERS:
        return ("external_id", "name", "number", "email", "phone", "country", "locale")
    return (
        "external_id",
        "number",
        "customer_external_id",
        "issue_date",
        "due_date",
        "reference",
        "description",
        "quantity",
        "unit_price",
        "vat_rate",
    )


def _shown(kind: Kind, record: Record) -> list[dict[str, Any]]:
    """The record as read, one table row per line: what each column became."""
    if record.data is None:
        error = i18n.error_text(record.error) if record.error else ""
        return [{"row": record.error_row or record.first_row, "error": error, "cells": {}}]
    data: Any = record.data
    if kind is CUSTOMERS:
        cells = {name: getattr(data, name, None) for name in _columns(kind)}
        cells["phone"] = data.phone or ""
        return [{"row": record.first_row, "error": "", "cells": cells}]
    rows = []
    for row, line in zip(record.rows, data.lines, strict=False):
        cells = {
            "external_id": data.external_id,
            "number": data.number,
            "customer_external_id": data.customer_external_id,
            "issue_date": i18n.day(data.issue_date),
            "due_date": i18n.day(data.due_date),
            "reference": data.reference,
            "description": line.description,
            "quantity": str(line.quantity),
            "unit_price": _price(line.unit_price, data.currency),
            "vat_rate": i18n.percent(line.vat_rate_bp),
        }
        rows.append({"row": row, "error": "", "cells": cells})
    return rows


def _price(minor: int, currency: str | None) -> str:
    """With the currency as money; without (the customer's will be used) as a number."""
    if currency:
        return i18n.money(minor, currency)
    return f"{to_major(minor, shared_minor_digits()):f}"
