"""Consumers of the outbox that record in tables what they have handled, each on its own
(docs/webhooks.md, "One outbox, several consumers").

A consumer has a position (every event up to it is handled) and receipts for the events past
it that it has handled. `take` returns the events past the position without a receipt, oldest
first; `handled` writes their receipts and moves the position over the handled ids that follow
it without a break. So an event whose transaction committed late, after events with higher
ids were handled, is still taken: it has no receipt, and the position cannot pass its id.

An id with no event may also be one that never commits (its transaction rolled back; a
PostgreSQL sequence hands out ids that way). The position passes such a hole once the event
after it was handled `PATIENCE` ago and nothing visible fills it: the hole's transaction,
which took its id before the later event's, would then have stayed open that long.

`take` locks the consumer's row, so one taker works at a time and a second one waits (it then
finds the receipts of the first); the work done for the events and their receipts commit
together in the caller's transaction.

Consumers here: `webhooks` (webhooks.fanout). The automations' dispatcher marks each event
itself (`OutboxEvent.dispatched_at`), and the live updates follow the table in memory by id
(realtime.broker); neither waits for another consumer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.db.dialect import insert_for
from payrequest.events.models import OutboxConsumer, OutboxEvent, OutboxReceipt
from payrequest.kit.clock import utcnow

PATIENCE = timedelta(minutes=10)


async def position(session: AsyncSession, consumer: str) -> int:
    """Every event up to this id is handled by `consumer` (0: none yet)."""
    found = await session.scalar(
        select(OutboxConsumer.position).where(OutboxConsumer.name == consumer)
    )
    return int(found or 0)


async def take(session: AsyncSession, consumer: str, *, limit: int) -> list[OutboxEvent]:
    """Up to `limit` events `consumer` has not handled, oldest first; the consumer's row stays
    locked until the caller's transaction ends. The session acts for every organisation."""
    start = await _lock(session, consumer)
    receipt = select(OutboxReceipt.outbox_event_id).where(
        OutboxReceipt.consumer == consumer, OutboxReceipt.outbox_event_id == OutboxEvent.id
    )
    found = await session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.id > start, ~exists(receipt))
        .order_by(OutboxEvent.id)
        .limit(limit)
    )
    return list(found.all())


async def handled(
    session: AsyncSession,
    consumer: str,
    event_ids: Sequence[int],
    *,
    now: datetime | None = None,
) -> int:
    """Record that `consumer` handled these events (taken in this transaction) and move its
    position on as far as it may; returns the new position."""
    now = now or utcnow()
    if event_ids:
        insert = insert_for(session)
        await session.execute(
            insert(OutboxReceipt)
            .values(
                [
                    {"consumer": consumer, "outbox_event_id": event_id, "handled_at": now}
                    for event_id in sorted(set(event_ids))
                ]
            )
            .on_conflict_do_nothing()
        )
    return await _advance(session, consumer, now)


async def _lock(session: AsyncSession, consumer: str) -> int:
    locked = select(OutboxConsumer.position).where(OutboxConsumer.name == consumer)
    found = await session.scalar(locked.with_for_update())
    if found is None:
        insert = insert_for(session)
        await session.execute(
            insert(OutboxConsumer)
            .values(name=consumer, position=0, updated_at=utcnow())
            .on_conflict_do_nothing()
        )
        found = await session.scalar(locked.with_for_update())
    return int(found or 0)


async def _advance(session: AsyncSession, consumer: str, now: datetime) -> int:
    row = await session.get(OutboxConsumer, consumer)
    if row is None:
        raise LookupError(f"the outbox consumer {consumer!r} was not taken in this transaction")
    at = row.position
    receipts = await session.execute(
        select(OutboxReceipt.outbox_event_id, OutboxReceipt.handled_at)
        .where(OutboxReceipt.consumer == consumer, OutboxReceipt.outbox_event_id > at)
        .order_by(OutboxReceipt.outbox_event_id)
    )
    for event_id, handled_at in receipts:
        if event_id != at + 1 and not await _hole_closed(session, at, event_id, handled_at, now):
            break
        at = event_id
    if at != row.position:
        row.position = at
        await session.execute(
            delete(OutboxReceipt).where(
                OutboxReceipt.consumer == consumer, OutboxReceipt.outbox_event_id <= at
            )
        )
        await session.flush()
    return at


async def _hole_closed(
    session: AsyncSession, after: int, before: int, handled_at: datetime, now: datetime
) -> bool:
    """Whether the ids between `after` and `before` (no receipts) will never be events to
    handle: the event `before` was handled PATIENCE ago, and none of them is visible."""
    if now - handled_at < PATIENCE:
        return False
    visible = await session.scalar(
        select(func.count())
        .select_from(OutboxEvent)
        .where(OutboxEvent.id > after, OutboxEvent.id < before)
    )
    return not visible
