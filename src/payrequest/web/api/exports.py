"""`/api/v1/exports/payments.csv`: the payments export of a period, the same file the admin's
payment requests page downloads (docs/csv.md, "Payments export"). It is a file for an
accounting system: its amounts are decimal major units beside the currency, unlike the
API's JSON objects (integer minor units)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query, Request

from payrequest.exports.payments_csv import payments_csv
from payrequest.exports.period import Period
from payrequest.runtime import Runtime
from payrequest.web.api.caller import CallerDep
from payrequest.web.api.route import api_router
from payrequest.web.downloads import CsvResponse, csv_download

router = api_router(tags=["Exports"])
CSV_EXAMPLE = (
    "date,time,type,payment,customer_number,customer_name,invoice_number,amount,currency,"
    "provider,provider_reference,method,reference\r\n"
    "2027-01-15,2027-01-15T09:30:12Z,payment,pr-20270115-0001,10023,Fjord Rør AS,2027-001,"
    "1250.00,NOK,vipps,pr-20270115-0001,,\r\n"
)


@router.get(
    "/exports/payments.csv",
    response_class=CsvResponse,
    summary="Export payments as CSV",
    responses={
        200: {
            "description": "The payments export (docs/csv.md): one row per movement of money "
            "and invoice, oldest first, streamed.",
            "content": {"text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE}},
        }
    },
)
async def export_payments(
    caller: CallerDep,
    request: Request,
    first: Annotated[
        date, Query(alias="from", description="The first day (YYYY-MM-DD, Europe/Oslo).")
    ],
    last: Annotated[date, Query(alias="to", description="The last day, included (YYYY-MM-DD).")],
) -> CsvResponse:
    """Payments through a provider, manual payments, refunds, undone manual payments and moves
    of customer credit of the days `from` to `to`, as the journal docs/csv.md describes."""
    period = Period.of(first, last)
    runtime: Runtime = request.app.state.runtime
    chunks = payments_csv(
        runtime.read_sessions, organisation_id=caller.organisation_id, period=period
    )
    return csv_download(chunks, period.filename("payments"))
