"""`/api/v1/webhook_endpoints`: list, create (the secret in that answer only), get, change,
delete, rotate the secret; and an endpoint's deliveries with the log of their tries
(docs/webhooks.md). The same payrequest.webhooks commands Settings calls."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from payrequest.public.event_types import EventType
from payrequest.public.ids import public_id, row_id
from payrequest.runtime import Runtime
from payrequest.web.api.caller import CallerDep
from payrequest.web.api.lists import CursorDep, ListObject
from payrequest.web.api.route import api_router
from payrequest.web.deps import ReadSessionDep, RuntimeDep, SessionDep
from payrequest.webhooks import endpoints, read
from payrequest.webhooks.endpoints import EndpointChange
from payrequest.webhooks.public import (
    DeliveryStatus,
    WebhookDeliveryObject,
    WebhookEndpointObject,
    WebhookEndpointWithSecret,
    webhook_delivery_object,
    webhook_endpoint_object,
    webhook_endpoint_with_secret,
)

router = api_router(tags=["Webhook endpoints"])
EndpointId = Annotated[
    str, Path(description="The webhook endpoint's id (`we_...`).", max_length=40)
]
Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=endpoints.MAX_URL,
        description="Where to send events: https:// where real money moves; never this "
        "machine or a private network (docs/webhooks.md).",
    ),
]
EventTypes = Annotated[
    list[EventType],
    Field(min_length=1, max_length=32, description="The event types to send (at least one)."),
]
Description = Annotated[str, Field(max_length=endpoints.MAX_DESCRIPTION)]
EXAMPLE: dict[str, Any] = {
    "url": "https://erp.example.no/payrequest/webhooks",
    "event_types": ["invoice.paid", "invoice.partially_paid", "payment_request.failed"],
    "description": "Accounting",
}


class WebhookEndpointList(ListObject[WebhookEndpointObject]):
    pass


class WebhookDeliveryList(ListObject[WebhookDeliveryObject]):
    pass


class DeletedWebhookEndpoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    deleted: Literal[True] = True


class WebhookEndpointCreate(BaseModel):
    """A new endpoint: where, and which event types. Its secret is in the answer, only there."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_extra={"examples": [EXAMPLE]}
    )

    url: Url
    event_types: EventTypes
    description: Description = ""
    enabled: bool = True


class WebhookEndpointUpdate(BaseModel):
    """The fields to change; those left out are kept. Switching an endpoint off gives up its
    waiting deliveries; switching it on starts afresh."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_extra={"examples": [{"enabled": False}]}
    )

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = None


def _id(endpoint_id: str) -> int:
    return row_id("webhook_endpoint", endpoint_id)


def _rules(runtime: Runtime) -> endpoints.Rules:
    return runtime.webhook_services.rules


@router.get(
    "/webhook_endpoints", response_model=WebhookEndpointList, summary="List webhook endpoints"
)
async def list_webhook_endpoints(
    caller: CallerDep, session: ReadSessionDep, cursor: CursorDep
) -> WebhookEndpointList:
    """The organisation's webhook endpoints, newest first."""
    rows = await read.endpoints_newest_first(
        session, before_id=cursor.before("webhook_endpoint"), limit=cursor.fetch
    )
    shown, more = cursor.page(rows)
    return WebhookEndpointList(data=[webhook_endpoint_object(e) for e in shown], has_more=more)


@router.post(
    "/webhook_endpoints",
    response_model=WebhookEndpointWithSecret,
    status_code=status.HTTP_201_CREATED,
    summary="Create a webhook endpoint",
)
async def create_webhook_endpoint(
    caller: CallerDep, session: SessionDep, runtime: RuntimeDep, body: WebhookEndpointCreate
) -> WebhookEndpointWithSecret:
    """The answer holds the endpoint's signing `secret`: keep it, it is never shown again."""
    made = await endpoints.create(
        session,
        EndpointChange(
            url=body.url,
            event_types=body.event_types,
            description=body.description,
            enabled=body.enabled,
        ),
        rules=_rules(runtime),
        box=runtime.box,
    )
    return webhook_endpoint_with_secret(made.endpoint, made.secret)


@router.get(
    "/webhook_endpoints/{endpoint_id}",
    response_model=WebhookEndpointObject,
    summary="Get a webhook endpoint",
)
async def get_webhook_endpoint(
    caller: CallerDep, session: ReadSessionDep, endpoint_id: EndpointId
) -> WebhookEndpointObject:
    return webhook_endpoint_object(await endpoints.get(session, _id(endpoint_id)))


@router.patch(
    "/webhook_endpoints/{endpoint_id}",
    response_model=WebhookEndpointObject,
    summary="Change a webhook endpoint",
)
async def change_webhook_endpoint(
    caller: CallerDep,
    session: SessionDep,
    runtime: RuntimeDep,
    endpoint_id: EndpointId,
    body: WebhookEndpointUpdate,
) -> WebhookEndpointObject:
    changed = await endpoints.change(
        session,
        _id(endpoint_id),
        EndpointChange(
            url=body.url,
            event_types=body.event_types,
            description=body.description,
            enabled=body.enabled,
        ),
        rules=_rules(runtime),
    )
    return webhook_endpoint_object(changed)


@router.delete(
    "/webhook_endpoints/{endpoint_id}",
    response_model=DeletedWebhookEndpoint,
    summary="Delete a webhook endpoint",
)
async def delete_webhook_endpoint(
    caller: CallerDep, session: SessionDep, endpoint_id: EndpointId
) -> DeletedWebhookEndpoint:
    """The endpoint goes, with its deliveries and their log."""
    number = _id(endpoint_id)
    await endpoints.delete(session, number)
    return DeletedWebhookEndpoint(id=public_id("webhook_endpoint", number))


@router.post(
    "/webhook_endpoints/{endpoint_id}/rotate_secret",
    response_model=WebhookEndpointWithSecret,
    summary="Make a new secret for a webhook endpoint",
)
async def rotate_webhook_endpoint_secret(
    caller: CallerDep, session: SessionDep, runtime: RuntimeDep, endpoint_id: EndpointId
) -> WebhookEndpointWithSecret:
    """A new signing `secret`, in this answer only; the previous one keeps signing beside it
    for 24 hours (`secret_rotated_until`)."""
    made = await endpoints.rotate(session, _id(endpoint_id), box=runtime.box)
    return webhook_endpoint_with_secret(made.endpoint, made.secret)


@router.get(
    "/webhook_endpoints/{endpoint_id}/deliveries",
    response_model=WebhookDeliveryList,
    summary="List a webhook endpoint's deliveries",
)
async def list_webhook_deliveries(
    caller: CallerDep,
    session: ReadSessionDep,
    cursor: CursorDep,
    endpoint_id: EndpointId,
    status_filter: Annotated[
        DeliveryStatus | None,
        Query(alias="status", description="Only deliveries in this state."),
    ] = None,
) -> WebhookDeliveryList:
    """The endpoint's deliveries, newest first, each with the log of its tries (newest
    first): when, how long, the status code and the start of the answer."""
    endpoint = await endpoints.get(session, _id(endpoint_id))
    rows = await read.deliveries(
        session,
        endpoint.id,
        before=cursor.before("webhook_delivery"),
        limit=cursor.fetch,
        status=status_filter,
    )
    shown, more = cursor.page(rows)
    log = await read.attempts(session, [row.delivery.id for row in shown])
    return WebhookDeliveryList(
        data=[webhook_delivery_object(row, log[row.delivery.id]) for row in shown],
        has_more=more,
    )
