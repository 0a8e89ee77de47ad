"""Tail the outbox and fan new events out to subscribers (SSE streams) in this process.

Every process tails the same table, so a browser connected to process A sees a change committed
by process B. The tail wakes at once when this process commits (`wake()`), and otherwise polls
every `interval` seconds; a lost wake-up delays a notice but never loses it. The outbox id is
the SSE event id, so a reconnecting browser replays what it missed from the table itself.

Ids are handed out before commit, so on PostgreSQL id 11 may become visible before id 10. The
tail remembers such gaps and looks for them again for `GAP_PATIENCE` seconds.

Organisations: the tail is the installation's work, so it reads the outbox of every
organisation (a session scoped to `ALL`); each notice carries its organisation, and every
subscriber's filter accepts only its own organisation's (`for_organisation`). What another
process committed reaches this one through the table, organisation and all, so the filter
holds across processes too. A replay (`since`) reads in the subscriber's own scope.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.db.scope import ALL, scoped_to
from payrequest.events.models import OutboxEvent
from payrequest.observability.metrics import SSE_CONNECTIONS

log = logging.getLogger(__name__)
QUEUE_LIMIT = 1000  # a subscriber that falls this far behind is dropped and reconnects
GAP_PATIENCE = 30.0  # seconds a skipped id is looked for again (a transaction still open)
MAX_GAPS = 10_000


@dataclass(frozen=True, slots=True)
class Notice:
    """What changed, small enough for a NOTIFY payload and an SSE line."""

    id: int
    name: str
    aggregate_type: str
    aggregate_id: int
    customer_id: int | None
    reference: str | None = None
    organisation_id: int | None = None  # whose change it is; never sent to the browser

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": self.aggregate_type,
            "aggregate_id": self.aggregate_id,
            "customer_id": self.customer_id,
            "reference": self.reference,
        }


def notice_of(row: OutboxEvent) -> Notice:
    reference = row.payload.get("reference") if isinstance(row.payload, dict) else None
    return Notice(
        row.id,
        row.name,
        row.aggregate_type,
        row.aggregate_id,
        row.customer_id,
        str(reference) if reference else None,
        row.organisation_id,
    )


Filter = Callable[[Notice], bool]


def for_organisation(organisation_id: int, accepts: Filter | None = None) -> Filter:
    """A filter that lets through only notices of `organisation_id` (and, if given, only
    those `accepts` also lets through)."""

    def filter_(notice: Notice) -> bool:
        return notice.organisation_id == organisation_id and (accepts is None or accepts(notice))

    return filter_


@dataclass(eq=False)
class Subscription:
    accepts: Filter
    queue: asyncio.Queue[Notice | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))

    async def __aiter__(self) -> AsyncIterator[Notice]:
        while True:
            notice = await self.queue.get()
            if notice is None:
                return
            yield notice


async def since(
    session: AsyncSession, after_id: int, *, accepts: Filter, limit: int = 500
) -> list[Notice]:
    """Events after `after_id` (for `Last-Event-ID` replay), oldest first, of the session's
    scope that `accepts` lets through."""
    stmt = (
        select(OutboxEvent).where(OutboxEvent.id > after_id).order_by(OutboxEvent.id).limit(limit)
    )
    notices = [notice_of(row) for row in (await session.execute(stmt)).scalars()]
    return [n for n in notices if accepts(n)]


class OutboxTail:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, interval: float = 0.5
    ) -> None:
        self._sessions = sessions
        self._interval = interval
        self._subscribers: set[Subscription] = set()
        self._open: set[Subscription] = set()  # subscribed, not yet unsubscribed (the gauge)
        self._wake = asyncio.Event()
        self._last_id = 0
        self._gaps: dict[int, float] = {}  # id -> loop time when first missed
        self._task: asyncio.Task[None] | None = None

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    @property
    def last_id(self) -> int:
        return self._last_id

    def wake(self) -> None:
        self._wake.set()

    def subscribe(self, accepts: Filter) -> Subscription:
        subscription = Subscription(accepts)
        self._subscribers.add(subscription)
        self._open.add(subscription)
        SSE_CONNECTIONS.inc()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)
        if subscription in self._open:  # a stream dropped for lagging still counts until here
            self._open.discard(subscription)
            SSE_CONNECTIONS.dec()

    def _everyone(self) -> AsyncSession:
        """A session reading every organisation's outbox (the tail is the installation's)."""
        return self._sessions(info=scoped_to(ALL))

    async def start(self) -> None:
        async with self._everyone() as session:
            latest = (await session.execute(select(func.max(OutboxEvent.id)))).scalar_one()
        self._last_id = int(latest or 0)
        self._task = asyncio.create_task(self._run(), name="outbox-tail")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for subscription in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                subscription.queue.put_nowait(None)
        self._subscribers.clear()

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:
                log.exception("outbox tail failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()

    async def poll_once(self) -> int:
        async with self._everyone() as session:
            notices = await since(session, self._last_id, accepts=lambda _: True)
            if self._gaps:
                stmt = select(OutboxEvent).where(OutboxEvent.id.in_(list(self._gaps)))
                late = [notice_of(row) for row in (await session.execute(stmt)).scalars()]
                notices = sorted(late + notices, key=lambda n: n.id)
        now = asyncio.get_running_loop().time()
        for notice in notices:
            if notice.id in self._gaps:
                del self._gaps[notice.id]
            elif notice.id > self._last_id:
                self._remember_gaps(self._last_id, notice.id, now)
                self._last_id = notice.id
            self._publish(notice)
        self._gaps = {i: t for i, t in self._gaps.items() if now - t < GAP_PATIENCE}
        return len(notices)

    def _remember_gaps(self, last: int, new: int, now: float) -> None:
        if last and new - last > 1 and len(self._gaps) < MAX_GAPS:
            for missing in range(last + 1, min(new, last + 1 + MAX_GAPS)):
                self._gaps[missing] = now

    def _publish(self, notice: Notice) -> None:
        for subscription in list(self._subscribers):
            if not subscription.accepts(notice):
                continue
            try:
                subscription.queue.put_nowait(notice)
            except asyncio.QueueFull:
                log.warning("dropping a slow live-update subscriber")
                self._subscribers.discard(subscription)
                with contextlib.suppress(asyncio.QueueFull):
                    subscription.queue.put_nowait(None)
