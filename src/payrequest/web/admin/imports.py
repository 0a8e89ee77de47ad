"""Importing customers and invoices from a CSV file (docs/csv.md), for owners and staff: upload
(the file is kept on disk, imports.uploads), a preview of its first rows as they were read
and of every row the reading refuses, then a dry run or the import itself, with the report
in the reader's language. A large file is better imported with `payrequest import`, which
shows its progress: here the import runs while the browser waits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile, status
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from payrequest.config import Settings
from payrequest.errors import N_
from payrequest.imports.customers import CUSTOMERS
from payrequest.imports.invoices import INVOICES
from payrequest.imports.preview import Preview, preview
from payrequest.imports.records import Kind, Record
from payrequest.imports.report import Report
from payrequest.imports.run import run_import
from payrequest.imports.uploads import Upload, Uploads
from payrequest.kit.money import shared_minor_digits, to_major
from payrequest.web import i18n
from payrequest.web.auth import Writer, WriterRole
from payrequest.web.deps import RuntimeDep, SettingsDep
from payrequest.web.flash import flash
from payrequest.web.render import render

router = APIRouter()
KINDS: dict[str, Kind] = {"customers": CUSTOMERS, "invoices": INVOICES}
KIND_LABELS = {"customers": N_("Customers"), "invoices": N_("Invoices")}


def _uploads(settings: Settings) -> Uploads:
    return Uploads(Path(settings.var_dir) / "imports")


def _found(settings: Settings, organisation_id: int, token: str) -> Upload:
    upload = _uploads(settings).find(organisation_id, token)
    if upload is None or upload.kind not in KINDS:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            i18n.gettext("This upload is gone (uploads are kept for a day); upload the file again"),
        )
    return upload


@router.get("/imports", response_class=HTMLResponse)
async def import_form(request: Request, user: WriterRole, kind: str = "") -> HTMLResponse:
    """`kind`: what the list the staff member came from holds (preselected; any other is
    ignored)."""
    return render(request, "imports/form.html", kinds=KIND_LABELS, chosen=kind)


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


@router.post("/imports/{token}", response_class=HTMLResponse)
async def run_upload(
    request: Request,
    user: Writer,
    runtime: RuntimeDep,
    settings: SettingsDep,
    token: str,
    action: Annotated[str, Form()] = "",
) -> HTMLResponse:
    upload = _found(settings, user.organisation_id, token)
    kind = KINDS[upload.kind]
    with upload.open() as source:
        report = await run_import(
            runtime.sessions,
            kind=kind,
            source=source,
            organisation_id=user.organisation_id,
            dry_run=action != "import",
            actor_id=user.id,
        )
    if not report.dry_run:
        _uploads(settings).remove(upload)
    return render(request, "imports/preview.html", **_page(upload, kind, report, None))


def _page(upload: Upload, kind: Kind, report: Report, looked: Preview | None) -> dict[str, Any]:
    return {
        "upload": upload,
        "kind_label": KIND_LABELS[upload.kind],
        "report": report,
        "file_error": i18n.error_text(report.file_error) if report.file_error else "",
        "problems": [
            (e.row, e.column or "", i18n.error_text(e.error), e.spans) for e in report.errors
        ],
        "looked": looked,
        "columns": _columns(kind),
        "rows": [row for record in _first(looked) for row in _shown(kind, record)],
    }


def _first(looked: Preview | None) -> list[Record]:
    return looked.first if looked is not None else []


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
