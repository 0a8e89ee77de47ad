"""PostgreSQL LISTEN/NOTIFY: wake other processes' live tails and job workers at commit.

Sending: `notify(session, channel, payload)` runs `pg_notify()` inside the caller's transaction,
so PostgreSQL delivers it exactly when (and only if) that transaction commits. One notice per
channel and transaction is enough (the receivers re-read the tables), so later calls in the same
transaction are skipped. Payloads are ids only, far below PostgreSQL's 8000-byte limit. On any
other database `notify` does nothing: SQLite runs in one process, which wakes itself.

Receiving: one `PgListener` per process holds a dedicated asyncpg connection (not one of the
SQLAlchemy pool's: a pooled connection would be handed to others and lose its LISTENs), LISTENs
on its channels and hands each notice to callbacks and to coalescing async iterators. When the
connection drops it reconnects with backoff, and after every (re)connect it signals one
catch-up on every channel, since notices sent while it was away are gone. A lost notice
therefore only delays: the outbox tail and the job worker still poll as the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)

OUTBOX_CHANNEL = "payrequest_outbox"
JOBS_CHANNEL = "payrequest_jobs"
CHANNELS = (OUTBOX_CHANNEL, JOBS_CHANNEL)
CATCH_UP = ""  # the payload handed out after a (re)connect: "look, something may be new"
MAX_PAYLOAD = 7999
PING_SECONDS = 10.0  # how often an idle listener checks that its connection still answers
_SENT = "payrequest.pg_notify.sent"

Callback = Callable[[str], None]


def is_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def plain_dsn(url: str) -> str:
    """`postgresql+asyncpg://...` (SQLAlchemy) -> `postgresql://...` (libpq/asyncpg)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def notify(session: AsyncSession, channel: str, payload: str | int = "") -> bool:
    """NOTIFY `channel` when the session's current transaction commits (PostgreSQL only).

    Returns whether a notice was queued now (False: not PostgreSQL, or already queued in this
    transaction)."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    transaction = session.sync_session.get_transaction()
    sent: dict[str, Any] = session.info.setdefault(_SENT, {})
    if transaction is not None and sent.get(channel) is transaction:
        return False
    body = str(payload)
    if len(body.encode()) > MAX_PAYLOAD:
        raise ValueError("NOTIFY payloads must stay below 8000 bytes: send ids only")
    await session.execute(
        text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": body}
    )
    sent[channel] = transaction  # held, so identity stays unique while we compare against it
    return True


class _Wakeups:
    """An async iterator that yields once per burst of notices (never queues a backlog)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._closed = False

    def set(self) -> None:
        self._event.set()

    def close(self) -> None:
        self._closed = True
        self._event.set()

    def __aiter__(self) -> AsyncIterator[object]:
        return self

    async def __anext__(self) -> object:
        await self._event.wait()
        self._event.clear()
        if self._closed:
            raise StopAsyncIteration
        return True


class PgListener:
    """LISTEN on `channels` over a dedicated connection that comes back after it drops."""

    def __init__(
        self,
        url: str,
        channels: Sequence[str] = CHANNELS,
        *,
        min_backoff: float = 0.1,
        max_backoff: float = 5.0,
        ping_seconds: float = PING_SECONDS,
    ) -> None:
        self._dsn = plain_dsn(url)
        self._channels = tuple(channels)
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._ping = ping_seconds
        self._callbacks: dict[str, list[Callback]] = {c: [] for c in self._channels}
        self._iterators: dict[str, list[_Wakeups]] = {c: [] for c in self._channels}
        self._task: asyncio.Task[None] | None = None
        self._connection: Any = None  # asyncpg.Connection (untyped)
        self._lost = asyncio.Event()
        self.connected = asyncio.Event()
        self.connects = 0  # how many times a connection was made (1 + reconnects)

    # --- consumers ------------------------------------------------------------------------

    def on(self, channel: str, callback: Callback) -> None:
        """Call `callback(payload)` for every notice (`CATCH_UP` after a reconnect)."""
        self._callbacks[channel].append(callback)

    def wakeups(self, channel: str) -> AsyncIterator[object]:
        """Yields when notices arrived on `channel` (several at once yield once)."""
        iterator = _Wakeups()
        self._iterators[channel].append(iterator)
        return iterator

    @property
    def backend_pid(self) -> int | None:
        connection = self._connection
        if connection is None or connection.is_closed():
            return None
        return int(connection.get_server_pid())

    # --- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pg-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for iterators in self._iterators.values():
            for iterator in iterators:
                iterator.close()
        await self._close()

    async def __aenter__(self) -> PgListener:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    # --- the connection -------------------------------------------------------------------

    def _dispatch(self, channel: str, payload: str) -> None:
        for callback in self._callbacks.get(channel, ()):
            try:
                callback(payload)
            except Exception:
                log.exception("LISTEN callback for %s failed", channel)
        for iterator in self._iterators.get(channel, ()):
            iterator.set()

    def _on_notice(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        self._dispatch(channel, payload)

    def _on_lost(self, _conn: object) -> None:
        self._lost.set()

    async def _run(self) -> None:
        delay = self._min_backoff
        while True:
            try:
                await self._connect()
            except Exception as exc:
                log.warning("LISTEN connection failed (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter
                delay = min(delay * 2, self._max_backoff)
                continue
            delay = self._min_backoff
            for channel in self._channels:  # whatever was sent while we were away
                self._dispatch(channel, CATCH_UP)
            await self._watch()
            self.connected.clear()
            await self._close()
            log.warning("LISTEN connection lost; reconnecting")

    async def _connect(self) -> None:
        self._lost.clear()
        connection = await asyncpg.connect(self._dsn, timeout=10)
        try:
            connection.add_termination_listener(self._on_lost)
            for channel in self._channels:
                await connection.add_listener(channel, self._on_notice)
        except BaseException:
            connection.terminate()
            raise
        self._connection = connection
        self.connects += 1
        self.connected.set()

    async def _watch(self) -> None:
        """Return when the connection is gone (closed by the server, or no longer answering)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), self._ping)
            if self._lost.is_set() or self._connection is None or self._connection.is_closed():
                return
            try:
                await self._connection.fetchval("SELECT 1", timeout=self._ping)
            except Exception:
                return

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None or connection.is_closed():
            return
        try:
            await asyncio.wait_for(connection.close(), 2)
        except Exception:
            connection.terminate()


def listener_for(url: str) -> PgListener | None:
    """A listener on both channels for a PostgreSQL URL; None for SQLite (polling only)."""
    return PgListener(url) if is_postgresql(url) else None
