"""Errors of the API as RFC 9457 problem details (docs/api.md, "Errors"): a JSON object of
media type `application/problem+json` with `type` (a URI reference naming the kind of
problem: the docs' entry for its code), `title` (the same for every problem of the type),
`status` (the HTTP status again), `detail` (this occurrence, in English, for a developer),
and our members `code` (stable, machine-readable) and `field` (the input at fault, if one)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from payrequest.errors import PayrequestError

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "/api/v1/docs#problem-"  # relative to the API's host: the rendered docs
log = logging.getLogger(__name__)

TITLES: dict[int, str] = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
}
# The code of an HTTPException's status (the router's 404 and 405, a body too large, ...).
STATUS_CODES: dict[int, str] = {
    400: "invalid_body",  # FastAPI could not read the body (not JSON, not UTF-8)
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
}


class Problem(BaseModel):
    """A problem detail (RFC 9457)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "/api/v1/docs#problem-validation_failed",
                    "title": "Unprocessable content",
                    "status": 422,
                    "detail": "The due date cannot be before the issue date",
                    "code": "validation_failed",
                    "field": "due_date",
                }
            ]
        }
    )

    type: str = Field(description="A URI reference naming the kind of problem.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong this time, in English, for a developer.")
    code: str = Field(description="Stable and machine-readable: what a client acts on.")
    field: str | None = Field(
        default=None, description="The input at fault: a body field, a parameter or a header."
    )


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=TYPE_BASE + code,
        title=TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        code=code,
        field=field,
    )
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


def of_error(error: PayrequestError) -> JSONResponse:
    """A refusal of the domain: its status, code, English message and field."""
    status = error.status_code if error.status_code in TITLES else 400
    return problem(status, error.code, error.message, field=error.field)


@contextmanager
def fields_named(names: Mapping[str, str]) -> Iterator[None]:
    """A refusal of the domain names its field as the API calls it (`customer_id` is the
    body's `customer`)."""
    try:
        yield
    except PayrequestError as error:
        if error.field is not None and error.field in names:
            error.field = names[error.field]
        raise


def of_invalid_request(error: RequestValidationError) -> JSONResponse:
    """Input that does not fit the schema: the first fault, naming its field (`lines.0.unit_price`,
    or the parameter's name)."""
    faults: Sequence[Any] = error.errors()
    first = faults[0] if faults else {}
    message = str(first.get("msg", "Invalid input"))
    if first.get("type") == "json_invalid":  # its location is a position in the text
        return problem(422, "invalid_json", f"The body is not JSON: {message}")
    location = [str(part) for part in first.get("loc", ())]
    if location and location[0] in ("body", "query", "path", "header"):
        location = location[1:]
    field = ".".join(location) or None
    detail = f"{field}: {message}" if field else message
    return problem(422, "invalid_request", detail, field=field)


def of_http(error: HTTPException) -> JSONResponse:
    status = error.status_code if error.status_code in TITLES else 400
    detail = error.detail if isinstance(error.detail, str) else TITLES[status]
    return problem(status, STATUS_CODES.get(status, "error"), detail, headers=error.headers)


def of_exception(error: Exception) -> JSONResponse:
    """Any other refusal of a request as its problem; an unexpected error is a 500 (logged)."""
    if isinstance(error, PayrequestError):
        return of_error(error)
    if isinstance(error, RequestValidationError):
        return of_invalid_request(error)
    if isinstance(error, HTTPException):
        return of_http(error)
    log.error("API request failed", exc_info=error)
    return problem(500, "internal_error", "Something went wrong on our side; it is logged.")


async def handle(_request: Request, error: Exception) -> JSONResponse:
    """The API app's exception handler for every kind of error."""
    return of_exception(error)
