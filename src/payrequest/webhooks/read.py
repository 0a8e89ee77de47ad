"""Reading webhook deliveries and their log, for Settings and the API. The session acts for
the organisation: another's endpoint reads as none."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

MAX_PAGE = 100


async def endpoints_newest_first(
    session: AsyncSession, *, before_id: int | None, limit: int
) -> list[WebhookEndpoint]:
    """A page of the organisation's endpoints, newest first, those older than `before_id`."""
    query = select(WebhookEndpoint).order_by(WebhookEndpoint.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(WebhookEndpoint.id < before_id)
    return list((await session.scalars(query)).all())


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """A delivery with what its event is."""

    delivery: WebhookDelivery
    event_id: str  # evt_...
    event_type: str
    object_type: str
    object_id: str
    event_created: datetime


async def deliveries(
    session: AsyncSession,
    endpoint_id: int,
    *,
    limit: int = 50,
    before: int | None = None,
    status: str | None = None,
) -> list[DeliveryRow]:
    """The endpoint's deliveries, newest first; `before`: only those older than that
    delivery (the next page)."""
    query = (
        select(WebhookDelivery, WebhookEvent)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(max(1, min(limit, MAX_PAGE + 1)))
    )
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    rows = await session.execute(query)
    return [
        DeliveryRow(
            delivery,
            event.public_id,
            event.type,
            event.object_type,
            event.object_id,
            event.created_at,
        )
        for delivery, event in rows
    ]


async def attempts(
    session: AsyncSession, delivery_ids: Sequence[int]
) -> dict[int, list[WebhookAttempt]]:
    """The log of these deliveries, each newest first."""
    found: dict[int, list[WebhookAttempt]] = {delivery_id: [] for delivery_id in delivery_ids}
    if not delivery_ids:
        return found
    rows = await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(list(delivery_ids)))
        .order_by(WebhookAttempt.id.desc())
    )
    for attempt in rows:
        found[attempt.delivery_id].append(attempt)
    return found


async def counts(session: AsyncSession) -> dict[int, dict[str, int]]:
    """Endpoint id -> deliveries per status, for the organisation's endpoints."""
    rows = await session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count()).group_by(
            WebhookDelivery.endpoint_id, WebhookDelivery.status
        )
    )
    found: dict[int, dict[str, int]] = {}
    for endpoint_id, status, count in rows:
        found.setdefault(endpoint_id, {})[status] = count
    return found


async def last_error(session: AsyncSession, endpoint_id: int) -> str | None:
    """The error of the endpoint's newest failed try, if any."""
    found = await session.scalar(
        select(WebhookAttempt.error)
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookAttempt.error.is_not(None))
        .order_by(WebhookAttempt.id.desc())
        .limit(1)
    )
    return found
