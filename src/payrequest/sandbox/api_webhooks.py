"""Webhooks API v1: register, list and delete registrations (docs/vipps.md#webhooks-api).

Registrations belong to the sales unit of the call: the `Merchant-Serial-Number` header, or
the unit of the keys when it is left out (partner keys must send it,
docs/vipps.md#partner-keys). A unit's events go only to its own registrations.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from payrequest.sandbox.api_epayment import route_path
from payrequest.sandbox.gateway import calling_unit, check_bearer, sandbox_of
from payrequest.sandbox.problems import PROBLEM_JSON, ApiError, trace_id
from payrequest.sandbox.store import Webhook
from payrequest.sandbox.validation import check_system_headers, check_url, parse_body

router = APIRouter(prefix="/webhooks/v1")
MAX_PER_EVENT = 25  # per event type per MSN (docs/vipps.md#webhooks-api)

EPAYMENT_EVENTS = tuple(
    f"epayments.payment.{name}.v1"
    for name in (
        "created",
        "aborted",
        "expired",
        "cancelled",
        "captured",
        "refunded",
        "authorized",
        "terminated",
    )
)
OTHER_EVENTS = (
    "recurring.agreement-activated.v1",
    "recurring.agreement-rejected.v1",
    "recurring.agreement-stopped.v1",
    "recurring.agreement-expired.v1",
    "recurring.charge-reserved.v1",
    "recurring.charge-captured.v1",
    "recurring.charge-canceled.v1",
    "recurring.charge-refunded.v1",
    "recurring.charge-failed.v1",
    "recurring.charge-creation-failed.v1",
    "user.checked-in.v1",
    "login.merchant-initiated.ping.v1",
)
KNOWN_EVENTS = frozenset(EPAYMENT_EVENTS + OTHER_EVENTS)


def problem(
    request: Request, status: int, title: str, reasons: list[tuple[str, str]]
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://httpstatuses.io/{status}",
        "title": title,
        "status": status,
        "detail": "One or more validation errors occurred." if status == 400 else title,
        "instance": route_path(request).removeprefix("/webhooks"),
        "traceId": trace_id(),
        "extraDetails": [{"name": n, "reason": r} for n, r in reasons],
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _msn(request: Request) -> str:
    """Token and keys, then the sales unit: the MSN header (optional for a unit's own keys,
    needed with partner keys) must be one the keys act for. The `Vipps-System-*` headers are
    checked here too (every route asks for the MSN)."""
    keys = check_bearer(request)
    check_system_headers(request.headers)
    return calling_unit(request, keys, required=False).msn


def _registration_errors(request: Request, msn: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    sb = sandbox_of(request)
    url, events = body.get("url"), body.get("events")
    unknown = sorted(set(body) - {"url", "events"})
    errors = [(name, f"Unknown property '{name}'.") for name in unknown]
    if not url:
        errors.append(("url", "The property is required and cannot be null or empty."))
    else:
        try:
            check_url(url, "url", sb.config.allow_http_loopback)
            if not str(url).lower().startswith(("https://", "http://")):
                raise ApiError(4090, why="url")
        except ApiError:
            errors.append(("url", "The URL must be a valid https URL."))
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        errors.append(("events", "The property is required and cannot be null or empty."))
        return errors
    bad = [e for e in events if e not in KNOWN_EVENTS]
    if bad:
        errors.append(("events", "Unsupported values: " + ", ".join(bad)))
    for name in set(events) & KNOWN_EVENTS:
        count = sum(name in hook.events for hook in sb.store.webhooks(msn))
        if count >= MAX_PER_EVENT:
            errors.append(("events", f"At most {MAX_PER_EVENT} registrations per event: {name}"))
    return errors


@router.post("/webhooks")
async def register(request: Request) -> Response:
    sb = sandbox_of(request)
    msn = _msn(request)
    try:
        body = parse_body(await request.body(), required=True)
    except ApiError as error:
        return problem(request, 400, "Bad Request", error.fields)
    errors = _registration_errors(request, msn, body)
    if errors:
        return problem(request, 400, "Bad Request", errors)
    hook = Webhook(
        id=str(uuid.uuid4()),
        msn=msn,
        url=body["url"],
        events=sorted(set(body["events"])),
        secret=secrets.token_urlsafe(48),
    )
    sb.store.add_webhook(hook)
    return JSONResponse({"id": hook.id, "secret": hook.secret}, status_code=201)


@router.get("/webhooks")
async def list_webhooks(request: Request) -> Response:
    hooks = sandbox_of(request).store.webhooks(_msn(request))
    return JSONResponse(
        {"webhooks": [{"id": h.id, "url": h.url, "events": h.events} for h in hooks]}
    )


@router.delete("/webhooks/{webhook_id}")
async def delete_webhook(webhook_id: str, request: Request) -> Response:
    msn = _msn(request)
    try:
        uuid.UUID(webhook_id)
    except ValueError:
        return problem(request, 400, "Bad Request", [("id", "The value is not a valid uuid.")])
    if not sandbox_of(request).store.delete_webhook(msn, webhook_id):
        return problem(request, 404, "Not Found", [("id", "No webhook with this id.")])
    return Response(status_code=204)
