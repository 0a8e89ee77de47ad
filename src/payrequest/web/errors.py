"""Expected errors become clear JSON answers with the right status; nothing else leaks."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from payrequest.errors import PayrequestError


async def _payrequest_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PayrequestError)
    body: dict[str, str] = {"error": exc.message, "code": exc.code}
    if exc.field:
        body["field"] = exc.field
    return JSONResponse(body, status_code=exc.status_code)


def install(app: FastAPI) -> None:
    app.add_exception_handler(PayrequestError, _payrequest_error)
