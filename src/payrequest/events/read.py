"""Reading the outbox back: the events of the last days, for the API's event list."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.events.models import OutboxEvent


async def newest_first(
    session: AsyncSession,
    *,
    since: datetime,
    before_id: int | None,
    limit: int,
    names: Collection[str],
) -> list[OutboxEvent]:
    """A page of the events named `names` recorded after `since`, newest first, those older
    than `before_id` when given (a cursor)."""
    stmt = (
        select(OutboxEvent)
        .where(OutboxEvent.created_at > since, OutboxEvent.name.in_(list(names)))
        .order_by(OutboxEvent.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        stmt = stmt.where(OutboxEvent.id < before_id)
    return list((await session.execute(stmt)).scalars())


async def get(session: AsyncSession, event_id: int) -> OutboxEvent | None:
    return await session.get(OutboxEvent, event_id)
