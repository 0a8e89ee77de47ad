"""The public form of webhook endpoints and their deliveries, beside payrequest.public's
objects (docs/webhooks.md, docs/api.md). The secret is in the object only in the answer that
made it (create, rotate)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from payrequest.public.common import Timestamp
from payrequest.public.event_types import EventType
from payrequest.public.ids import public_id
from payrequest.webhooks.models import WebhookAttempt, WebhookEndpoint
from payrequest.webhooks.read import DeliveryRow

EndpointStatus = Literal["enabled", "disabled", "failing"]
DeliveryStatus = Literal["pending", "delivered", "failed"]


class WebhookEndpointObject(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    url: str
    description: str
    event_types: list[EventType]
    enabled: bool
    # enabled; disabled (by a person); failing (switched off by payrequest after persistent
    # failure, docs/webhooks.md)
    status: EndpointStatus
    failing_since: Timestamp | None  # the first failed try since the last that got through
    secret_rotated_until: Timestamp | None  # the previous secret signs too until then
    created: Timestamp
    updated: Timestamp


class WebhookEndpointWithSecret(WebhookEndpointObject):
    """The answer that made a secret: the only time it is shown."""

    secret: str  # whsec_...


class WebhookAttemptObject(BaseModel):
    model_config = ConfigDict(frozen=True)

    attempted: Timestamp
    duration_ms: int
    status_code: int | None  # the receiver's answer; None when none came
    response_body: str  # its first 2048 characters
    error: str | None  # None: delivered
    manual: bool  # a resend or a test event


class WebhookDeliveryObject(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    object: Literal["webhook_delivery"] = "webhook_delivery"
    endpoint: str
    event: str  # the event's id, also the `webhook-id` header
    event_type: str
    status: DeliveryStatus
    attempts: int  # automatic tries so far
    next_attempt: Timestamp | None
    delivered: Timestamp | None
    created: Timestamp
    log: list[WebhookAttemptObject]  # newest first


def endpoint_status(endpoint: WebhookEndpoint) -> EndpointStatus:
    if endpoint.enabled:
        return "enabled"
    return "failing" if endpoint.disabled_reason == "failing" else "disabled"


def webhook_endpoint_object(endpoint: WebhookEndpoint) -> WebhookEndpointObject:
    return WebhookEndpointObject(**_fields(endpoint))


def webhook_endpoint_with_secret(
    endpoint: WebhookEndpoint, secret: str
) -> WebhookEndpointWithSecret:
    return WebhookEndpointWithSecret(**_fields(endpoint), secret=secret)


def _fields(endpoint: WebhookEndpoint) -> dict[str, object]:
    return {
        "id": public_id("webhook_endpoint", endpoint.id),
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "enabled": endpoint.enabled,
        "status": endpoint_status(endpoint),
        "failing_since": endpoint.failing_since,
        "secret_rotated_until": endpoint.previous_secret_until
        if endpoint.previous_secret
        else None,
        "created": endpoint.created_at,
        "updated": endpoint.updated_at,
    }


def webhook_delivery_object(
    row: DeliveryRow, log: Sequence[WebhookAttempt]
) -> WebhookDeliveryObject:
    delivery = row.delivery
    return WebhookDeliveryObject(
        id=public_id("webhook_delivery", delivery.id),
        endpoint=public_id("webhook_endpoint", delivery.endpoint_id),
        event=row.event_id,
        event_type=row.event_type,
        status=delivery.status,  # checked by the database
        attempts=delivery.attempts,
        next_attempt=delivery.next_attempt_at,
        delivered=delivery.delivered_at,
        created=delivery.created_at,
        log=[
            WebhookAttemptObject(
                attempted=attempt.attempted_at,
                duration_ms=attempt.duration_ms,
                status_code=attempt.status_code,
                response_body=attempt.response_body,
                error=attempt.error,
                manual=attempt.manual,
            )
            for attempt in log
        ],
    )
