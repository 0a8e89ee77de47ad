"""What an owner (in Settings) or an API key does by hand: resend one delivery, send a test
event. Each tries once, at once, and returns what the receiver answered; the try is logged
with the delivery like the automatic ones (docs/webhooks.md, "Resending")."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from payrequest.errors import Conflict, NotFound
from payrequest.public import event_types
from payrequest.public.common import rfc3339
from payrequest.public.event import API_VERSION
from payrequest.webhooks import delivery, endpoints
from payrequest.webhooks.delivery import Outcome
from payrequest.webhooks.models import WebhookDelivery, WebhookEvent
from payrequest.webhooks.public import webhook_endpoint_object
from payrequest.webhooks.services import WebhookServices


@dataclass(frozen=True, slots=True)
class Tried:
    delivery_id: int
    outcome: Outcome


async def resend(services: WebhookServices, *, endpoint_id: int, delivery_id: int) -> Tried:
    """Send the delivery's event to its endpoint again, whatever became of it; a delivery
    still waiting for its next try keeps waiting unless this one gets through."""
    now = services.clock()
    async with services.sessions() as session, session.begin():
        endpoint = await endpoints.get(session, endpoint_id)
        _switched_on(endpoint.enabled)
        found = await session.scalar(
            select(WebhookDelivery).where(
                WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id
            )
        )
        if found is None:
            raise NotFound("No such webhook delivery", code="webhook_delivery_not_found")
        ready = await delivery.prepared(
            session, services.box, found, endpoint, attempt=None, now=now
        )
    return await _try(services, ready)


async def send_test(services: WebhookServices, *, endpoint_id: int) -> Tried:
    """A `webhook_endpoint.test` event about the endpoint itself, to it alone."""
    now = services.clock()
    async with services.sessions() as session, session.begin():
        endpoint = await endpoints.get(session, endpoint_id)
        _switched_on(endpoint.enabled)
        public_id = f"evt_test_{secrets.token_hex(8)}"
        about = webhook_endpoint_object(endpoint)
        envelope = {
            "id": public_id,
            "object": "event",
            "type": event_types.TEST,
            "api_version": API_VERSION,
            "created": rfc3339(now),
            "data": {"object": about.model_dump(mode="json")},
        }
        event = WebhookEvent(
            public_id=public_id,
            type=event_types.TEST,
            object_type="webhook_endpoint",
            object_id=about.id,
            body=json.dumps(envelope, separators=(",", ":"), ensure_ascii=False),
            created_at=now,
        )
        session.add(event)
        await session.flush()
        added = WebhookDelivery(
            endpoint_id=endpoint.id,
            event_id=event.id,
            ordering_key=None,
            status="pending",
            attempts=0,
            created_at=now,
        )
        session.add(added)
        await session.flush()
        ready = await delivery.prepared(
            session, services.box, added, endpoint, attempt=None, now=now, test=True
        )
    return await _try(services, ready)


async def _try(services: WebhookServices, ready: delivery.Prepared) -> Tried:
    outcome = await delivery.send(services.sender, ready, clock=services.clock)
    async with services.sessions() as session, session.begin():
        await delivery.record(session, ready, outcome, now=services.clock())
    return Tried(ready.delivery_id, outcome)


def _switched_on(enabled: bool) -> None:
    if not enabled:
        raise Conflict(
            "Switch the endpoint on before sending to it", code="webhook_endpoint_disabled"
        )
