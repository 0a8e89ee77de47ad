"""The automations' mark on the outbox: `OutboxEvent.dispatched_at`, set for a batch at once."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.events.models import OutboxEvent


async def mark(session: AsyncSession, event_ids: Collection[int], *, now: datetime) -> None:
    """Mark these events dispatched at `now`: one UPDATE, in the caller's transaction. Events
    loaded in the session get the new value too (synchronized in memory, no reload)."""
    if not event_ids:
        return
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id.in_(sorted(set(event_ids))))
        .values(dispatched_at=now)
        .execution_options(synchronize_session="evaluate")
    )
