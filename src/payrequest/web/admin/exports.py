"""Downloads for the accounting: the payments export of a period as CSV (docs/csv.md), for
owners and staff. The form is on the payment requests page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import RedirectResponse, Response

from payrequest.errors import N_, PayrequestError
from payrequest.exports.payments_csv import payments_csv
from payrequest.exports.period import Period
from payrequest.web import i18n
from payrequest.web.auth import WriterRole
from payrequest.web.deps import RuntimeDep
from payrequest.web.downloads import csv_download
from payrequest.web.flash import flash

router = APIRouter()
LABELS = {"from": N_("From"), "to": N_("To")}
FORM = "/requests#export"


@router.get("/exports/payments.csv")
async def payments_export(
    request: Request,
    user: WriterRole,
    runtime: RuntimeDep,
    first: Annotated[str, Query(alias="from")] = "",
    last: Annotated[str, Query(alias="to")] = "",
) -> Response:
    try:
        period = Period.parse(first, last)
    except PayrequestError as exc:
        flash(request, i18n.problem(exc, LABELS), "error")
        return RedirectResponse(FORM, status_code=status.HTTP_303_SEE_OTHER)
    chunks = payments_csv(
        runtime.read_sessions, organisation_id=user.organisation_id, period=period
    )
    return csv_download(chunks, period.filename("payments"))
