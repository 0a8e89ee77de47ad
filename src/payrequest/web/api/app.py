"""The API app, mounted at `/api/v1` by the web app: its own routes, errors (problem details)
and OpenAPI document (`/api/v1/openapi.json`, rendered at `/api/v1/docs`), none of the
admin's pages. docs/api.md is its contract."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from payrequest.config import Settings
from payrequest.errors import PayrequestError
from payrequest.public.event import API_VERSION
from payrequest.runtime import Runtime
from payrequest.web import input_guard
from payrequest.web.api import (
    customers,
    events,
    exports,
    invoices,
    openapi,
    payment_requests,
    payments,
    problems,
    webhook_endpoints,
)

PREFIX = "/api/v1"
# Each resource's module; a new one is added here (docs/api.md, "Adding a resource").
RESOURCES = (customers, invoices, payment_requests, payments, events, exports, webhook_endpoints)
DESCRIPTION = (
    """
The REST API of payrequest for the business's own systems (ERP, accounting, web shop).

- **Authentication**: `Authorization: Bearer <key>`, a key an owner made in Settings → API
  keys (or `payrequest api-keys create`). A read key may only GET.
- **Conventions**: JSON; amounts in integer minor units beside an ISO 4217 currency;
  timestamps RFC 3339 in UTC; ids opaque strings with a type prefix (`cus_42`).
- **Errors**: RFC 9457 problem details (`application/problem+json`) with a stable `code`
  and the `field` at fault.
- **Idempotency**: send `Idempotency-Key` with a POST, PATCH, PUT or DELETE; a retry with the
  same key and body within 24 hours gets the first answer again (`Idempotent-Replayed: true`).
- **Pagination**: `limit` (1 to 100) and `starting_after` (the last id of the page before);
  lists answer `{"object": "list", "data": [...], "has_more": ...}`, newest first.
- **Rate limits**: per key, told in `RateLimit-Limit`, `RateLimit-Remaining`,
  `RateLimit-Reset`; a 429 says `Retry-After`.
- **Versioning**: objects and events carry `api_version` """
    + API_VERSION
    + """; within it
  fields are only added.
"""
)


def create_api(runtime: Runtime, settings: Settings) -> FastAPI:
    api = FastAPI(
        title="payrequest API",
        version=API_VERSION,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    api.state.runtime = runtime
    api.state.settings = settings
    for kind in (HTTPException, RequestValidationError, PayrequestError, Exception):
        api.add_exception_handler(kind, problems.handle)
    input_guard.install(api)
    for resource in RESOURCES:
        api.include_router(resource.router)
    api.openapi = lambda: openapi.document(api)  # type: ignore[method-assign]
    return api
