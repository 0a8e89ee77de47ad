"""`/v1/webhook_endpoints` (create, retrieve, update, list, delete) and `/v1/events` (list,
retrieve) (docs/stripe.md#webhooks).

An endpoint's `secret` is in the create answer only. `enabled_events` takes the event types
the emulator sends, or `*` for all of them.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from payrequest.sandbox.stripe import listing, render
from payrequest.sandbox.stripe import params as p
from payrequest.sandbox.stripe.calls import Call, answer, api_call
from payrequest.sandbox.stripe.errors import invalid, missing, no_such
from payrequest.sandbox.stripe.model import ALPHABET, WebhookEndpoint, new_id

router = APIRouter(tags=["webhooks and events"])
ApiCall = Annotated[Call, Depends(api_call)]
EVENT_TYPES = (
    "charge.failed",
    "charge.refunded",
    "charge.succeeded",
    "checkout.session.completed",
    "checkout.session.expired",
    "payment_intent.canceled",
    "payment_intent.created",
    "payment_intent.payment_failed",
    "payment_intent.requires_action",
    "payment_intent.succeeded",
    "refund.created",
    "refund.updated",
)
ENDPOINT_PARAMS = ("url", "enabled_events", "description", "metadata", "api_version", "expand")
MAX_ENDPOINTS = 16


def _endpoint(call: Call, endpoint_id: str) -> WebhookEndpoint:
    endpoint = call.account.endpoints.get(endpoint_id)
    if endpoint is None:
        raise no_such("webhook_endpoint", endpoint_id)
    return endpoint


def _url(params: dict[str, Any]) -> str:
    url = p.required_text(params, "url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid(f"Invalid URL: {url}", "url", "url_invalid")
    return url


def _events(params: dict[str, Any]) -> list[str]:
    events = p.string_list(params, "enabled_events")
    if not events:
        raise missing("enabled_events")
    for index, name in enumerate(events):
        if name != "*" and name not in EVENT_TYPES:
            raise invalid(
                f"Invalid enabled_events[{index}]: must be one of *, {', '.join(EVENT_TYPES)}",
                f"enabled_events[{index}]",
                "parameter_invalid",
            )
    return events


@router.post("/v1/webhook_endpoints")
async def create_endpoint(call: ApiCall) -> Response:
    def make() -> dict[str, Any]:
        p.only(call.params, ENDPOINT_PARAMS)
        if len(call.account.endpoints) >= MAX_ENDPOINTS:
            raise invalid("An account has at most 16 webhook endpoints.")
        endpoint = WebhookEndpoint(
            id=new_id("we_"),
            created=call.emu.timestamp(),
            url=_url(call.params),
            enabled_events=_events(call.params),
            secret="whsec_" + "".join(secrets.choice(ALPHABET) for _ in range(32)),
            api_version=p.text(call.params, "api_version"),
            description=p.text(call.params, "description"),
            metadata=p.metadata(call.params),
        )
        call.account.endpoints[endpoint.id] = endpoint
        return render.webhook_endpoint(endpoint, with_secret=True)

    return answer(call, make)


@router.get("/v1/webhook_endpoints")
async def list_endpoints(call: ApiCall) -> Response:
    p.only(call.params, listing.PAGE_PARAMS)
    endpoints = listing.newest_first(call.account.endpoints)
    body = listing.page(
        "/v1/webhook_endpoints",
        endpoints,
        call.params,
        "webhook_endpoint",
        render.webhook_endpoint,
    )
    return JSONResponse(body)


@router.get("/v1/webhook_endpoints/{endpoint_id}")
async def retrieve_endpoint(endpoint_id: str, call: ApiCall) -> Response:
    p.only(call.params, ("expand",))
    return JSONResponse(render.webhook_endpoint(_endpoint(call, endpoint_id)))


@router.post("/v1/webhook_endpoints/{endpoint_id}")
async def update_endpoint(endpoint_id: str, call: ApiCall) -> Response:
    def make() -> dict[str, Any]:
        p.only(
            call.params, ("url", "enabled_events", "description", "metadata", "disabled", "expand")
        )
        endpoint = _endpoint(call, endpoint_id)
        if "url" in call.params:
            endpoint.url = _url(call.params)
        if "enabled_events" in call.params:
            endpoint.enabled_events = _events(call.params)
        if "description" in call.params:
            endpoint.description = p.text(call.params, "description")
        if "metadata" in call.params:
            endpoint.metadata = {**endpoint.metadata, **p.metadata(call.params)}
        if "disabled" in call.params:
            disabled = p.choice(call.params, "disabled", ("true", "false"), "false")
            endpoint.status = "disabled" if disabled == "true" else "enabled"
        return render.webhook_endpoint(endpoint)

    return answer(call, make)


@router.delete("/v1/webhook_endpoints/{endpoint_id}")
async def delete_endpoint(endpoint_id: str, call: ApiCall) -> Response:
    endpoint = _endpoint(call, endpoint_id)
    del call.account.endpoints[endpoint.id]
    return JSONResponse(render.deleted("webhook_endpoint", endpoint.id))


@router.get("/v1/events")
async def list_events(call: ApiCall) -> Response:
    p.only(call.params, (*listing.PAGE_PARAMS, "type", "types"))
    events = listing.newest_first(call.account.events)
    single = p.text(call.params, "type")
    several = p.string_list(call.params, "types")
    if single is not None:
        events = [e for e in events if _matches(e.type, single)]
    if several:
        events = [e for e in events if e.type in several]
    body = listing.page("/v1/events", events, call.params, "event", call.emu.render_event)
    return JSONResponse(body)


def _matches(event_type: str, wanted: str) -> bool:
    """`type` filter: an exact type, or a prefix with `*` (`checkout.session.*`)."""
    if wanted.endswith("*"):
        return event_type.startswith(wanted[:-1])
    return event_type == wanted


@router.get("/v1/events/{event_id}")
async def retrieve_event(event_id: str, call: ApiCall) -> Response:
    p.only(call.params, ("expand",))
    event = call.account.events.get(event_id)
    if event is None:
        raise no_such("event", event_id)
    return JSONResponse(call.emu.render_event(event))
