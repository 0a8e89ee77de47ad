"""The API's OpenAPI 3.1 document, generated from the routes and models, with what FastAPI
does not add by itself: every error as a problem detail (`application/problem+json`, the
`Problem` schema) under the statuses an operation may answer, the rate limit headers, and
the API key as the security scheme of every operation."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from payrequest.web.api.problems import TITLES, Problem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
RATE_HEADERS = {
    "RateLimit-Limit": "Requests this key may make in a minute.",
    "RateLimit-Remaining": "Requests left in the current minute.",
    "RateLimit-Reset": "Seconds until the allowance grows again.",
}
# What each problem status means for any operation.
WHEN = {
    400: "The body could not be read as JSON (`invalid_body`).",
    401: "No API key, or not a valid one (`api_key_missing`, `api_key_invalid`).",
    403: "The key may only read, or its organisation is suspended.",
    404: "No such object (or not one of this organisation's).",
    409: "A conflict: with the object's state (`invoice_has_payments`, ...) or an "
    "`Idempotency-Key` (`idempotency_key_reused`, `idempotency_key_in_use`).",
    422: "Input that does not fit: `field` names it.",
    429: "Too many requests with this key (`rate_limited`); see `Retry-After`.",
}
SAFE = {"get", "head", "options"}


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "integer"}}


def _problem(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": f"{TITLES[status]}: {WHEN[status]}",
        "content": {"application/problem+json": {"schema": PROBLEM_REF}},
    }
    if status == 429:
        response["headers"] = {
            "Retry-After": _header("Seconds to wait before trying again."),
            **{name: _header(text) for name, text in RATE_HEADERS.items()},
        }
    return response


def document(app: FastAPI) -> dict[str, Any]:
    """The document (built once, then kept by the app)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=[{"url": "/api/v1"}],
    )
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            statuses = [401, 403, 404, 422, 429] + ([] if method in SAFE else [400, 409])
            for status in statuses:
                responses[str(status)] = _problem(status)
            for status, response in responses.items():
                if status.startswith("2"):
                    response["headers"] = {
                        name: _header(text) for name, text in RATE_HEADERS.items()
                    }
            if method not in SAFE:
                operation.setdefault("parameters", []).append(
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "Answer a retry of this request as the first time "
                        "(24 hours; docs/api.md, Idempotency).",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    }
                )
    app.openapi_schema = schema
    return schema
