"""Record domain events in the outbox, in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.db.pg_notify import OUTBOX_CHANNEL, notify
from payrequest.events.models import OutboxEvent


async def record(
    session: AsyncSession,
    *,
    name: str,
    aggregate_type: str,
    aggregate_id: int,
    customer_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> OutboxEvent:
    """Written with the change it describes: both commit, or neither does.

    Added to the session, not flushed: the session's next flush writes every event of the
    transaction in one INSERT. On PostgreSQL the commit also NOTIFYs every process's outbox
    tail (once per transaction; the payload is the aggregate's id, the tails re-read the
    table whatever it says)."""
    event = OutboxEvent(
        name=name,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        customer_id=customer_id,
        payload=payload or {},
    )
    # NOTIFY first: running it flushes what is pending, and this event should wait for the
    # transaction's other events to go out in one INSERT.
    await notify(session, OUTBOX_CHANNEL, aggregate_id)
    session.add(event)
    return event
