"""The webhooks' consumer of the outbox (docs/webhooks.md, "One outbox, several consumers"):
a periodic job of the installation that takes the events it has not handled (events.consumers:
its own position and receipts, apart from the automations' `dispatched_at`), and for each event
published as a public type (public.event_types) that an enabled endpoint of the event's organisation
subscribes to builds the public event once (objects: the envelope and `data.object` as they
are now, stored, so every try sends the same bytes) and a delivery per endpoint. The first
delivery of an object at an endpoint is queued at once; a later one waits for it
(delivery.wake_next). An endpoint gets the events that happened after it was made.

The endpoints are locked (FOR UPDATE) before their queues are looked at, as `delivery.record`
locks its endpoint before it wakes the next delivery: one of the two always sees the other's
delivery. Each event is published in a savepoint: one that fails (a defect) is logged and
passed, so it cannot hold back the events of every organisation after it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.events import consumers
from payrequest.events.models import OutboxEvent
from payrequest.public import event_types
from payrequest.webhooks import delivery, objects
from payrequest.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

log = logging.getLogger(__name__)
CONSUMER = "webhooks"
FAN_OUT_JOB = "webhooks.fan_out"
BATCH = 200


async def fan_out(session: AsyncSession, *, now: datetime, limit: int = BATCH) -> int:
    """Handle up to `limit` outbox events; returns how many were taken. The session acts for
    every organisation."""
    events = await consumers.take(session, CONSUMER, limit=limit)
    if not events:
        return 0
    published = [(event, event_types.public_type(event.name)) for event in events]
    wanted = [(event, kind) for event, kind in published if kind is not None]
    if wanted:
        listening = await _endpoints(session, {event.organisation_id for event, _ in wanted})
        for event, kind in wanted:
            targets = [
                endpoint
                for endpoint in listening.get(event.organisation_id, [])
                if kind in endpoint.event_types and endpoint.created_at <= event.created_at
            ]
            if targets:
                await _publish_one(session, event, kind, targets, now=now)
    await consumers.handled(session, CONSUMER, [event.id for event in events], now=now)
    return len(events)


async def _endpoints(
    session: AsyncSession, organisations: set[int]
) -> dict[int, list[WebhookEndpoint]]:
    found = await session.scalars(
        select(WebhookEndpoint)
        .where(
            WebhookEndpoint.enabled.is_(True),
            WebhookEndpoint.organisation_id.in_(organisations),
        )
        .order_by(WebhookEndpoint.id)
        .with_for_update()
    )
    by_organisation: dict[int, list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in found:
        by_organisation[endpoint.organisation_id].append(endpoint)
    return by_organisation


async def _publish_one(
    session: AsyncSession,
    event: OutboxEvent,
    kind: str,
    targets: list[WebhookEndpoint],
    *,
    now: datetime,
) -> None:
    """`_publish` in a savepoint: an event that cannot be published (a defect) is logged and
    left out rather than holding back every organisation's events behind it."""
    try:
        async with session.begin_nested():
            await _publish(session, event, kind, targets, now=now)
    except Exception:
        log.exception("outbox event %s (%s) could not be published as a webhook", event.id, kind)


async def _publish(
    session: AsyncSession,
    event: OutboxEvent,
    kind: str,
    targets: list[WebhookEndpoint],
    *,
    now: datetime,
) -> None:
    built = await objects.build(session, event, kind)
    if built is None:
        return  # the object is gone: nothing to tell
    stored = WebhookEvent(
        organisation_id=event.organisation_id,
        public_id=built.event_id,
        outbox_event_id=event.id,
        type=kind,
        object_type=built.object_type,
        object_id=built.object_id,
        body=built.body,
        created_at=event.created_at,
    )
    session.add(stored)
    await session.flush()
    for endpoint in targets:
        added = WebhookDelivery(
            organisation_id=event.organisation_id,
            endpoint_id=endpoint.id,
            event_id=stored.id,
            ordering_key=f"{built.object_type}:{built.object_id}",
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(added)
        await session.flush()
        if not await delivery.earlier_pending(session, added):
            await delivery.enqueue(session, added, at=now)
