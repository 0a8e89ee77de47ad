"""LISTEN/NOTIFY on PostgreSQL: prompt wake-ups, one notice per transaction, reconnects."""

from __future__ import annotations

import asyncio
import time

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.db.pg_notify import (
    CATCH_UP,
    JOBS_CHANNEL,
    OUTBOX_CHANNEL,
    PgListener,
    listener_for,
    notify,
    plain_dsn,
)
from payrequest.events import outbox
from payrequest.jobs import queue

pytestmark = pytest.mark.postgres


@pytest.fixture
async def listener(database_url: str) -> PgListener:
    if not database_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL only; SQLite processes poll")
    return PgListener(database_url, ping_seconds=0.5)


async def _send(url: str, channel: str, payload: str) -> None:
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        await connection.execute("SELECT pg_notify($1, $2)", channel, payload)
    finally:
        await connection.close()


def test_sqlite_gets_no_listener() -> None:
    assert listener_for("sqlite:///x.db") is None
    assert listener_for("postgresql://u@h/db") is not None


async def test_a_notify_from_another_connection_wakes_an_iterator_quickly(
    listener: PgListener, database_url: str
) -> None:
    payloads: list[str] = []
    listener.on(OUTBOX_CHANNEL, payloads.append)
    wakeups = listener.wakeups(JOBS_CHANNEL)
    async with listener:
        await asyncio.wait_for(listener.connected.wait(), 10)
        await asyncio.wait_for(anext(wakeups), 1)  # the catch-up after connecting
        started = time.perf_counter()
        await _send(database_url, JOBS_CHANNEL, "42")
        await asyncio.wait_for(anext(wakeups), 1)
        # The connect/close of the sender is included; the wake-up itself is well under that.
        assert time.perf_counter() - started < 0.1 + 0.2
        await _send(database_url, OUTBOX_CHANNEL, "7")
        for _ in range(50):
            if "7" in payloads:
                break
            await asyncio.sleep(0.01)
        assert payloads == [CATCH_UP, "7"]


async def test_wakeup_latency_is_under_100_ms(listener: PgListener, database_url: str) -> None:
    wakeups = listener.wakeups(JOBS_CHANNEL)
    sender = await asyncpg.connect(plain_dsn(database_url))
    try:
        async with listener:
            await asyncio.wait_for(listener.connected.wait(), 10)
            await anext(wakeups)
            for _ in range(5):
                started = time.perf_counter()
                await sender.execute("SELECT pg_notify($1, 'x')", JOBS_CHANNEL)
                await asyncio.wait_for(anext(wakeups), 1)
                assert time.perf_counter() - started < 0.1
    finally:
        await sender.close()


async def test_reconnects_after_its_connection_is_killed(
    listener: PgListener, database_url: str
) -> None:
    payloads: list[str] = []
    listener.on(JOBS_CHANNEL, payloads.append)
    async with listener:
        await asyncio.wait_for(listener.connected.wait(), 10)
        first = listener.backend_pid
        admin = await asyncpg.connect(plain_dsn(database_url))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)
        finally:
            await admin.close()
        deadline = time.monotonic() + 10
        while listener.connects < 2 or not listener.connected.is_set():
            assert time.monotonic() < deadline, "the listener did not reconnect"
            await asyncio.sleep(0.05)
        assert listener.backend_pid not in (None, first)
        assert payloads.count(CATCH_UP) == 2  # one catch-up per connection
        await _send(database_url, JOBS_CHANNEL, "after")
        for _ in range(100):
            if "after" in payloads:
                break
            await asyncio.sleep(0.01)
        assert "after" in payloads


async def test_writes_notify_once_per_transaction_on_commit_only(
    listener: PgListener,
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    seen: list[tuple[str, str]] = []
    listener.on(OUTBOX_CHANNEL, lambda payload: seen.append((OUTBOX_CHANNEL, payload)))
    listener.on(JOBS_CHANNEL, lambda payload: seen.append((JOBS_CHANNEL, payload)))
    async with listener:
        await asyncio.wait_for(listener.connected.wait(), 10)
        seen.clear()
        async with sessions() as session:
            async with session.begin():
                first = await outbox.record(
                    session, name="x.happened", aggregate_type="x", aggregate_id=1
                )
                await outbox.record(session, name="x.happened", aggregate_type="x", aggregate_id=2)
                job = await queue.enqueue(session, kind="k", payload={})
                assert job is not None
                ids = (first.aggregate_id, job.id)  # the outbox notice names the aggregate
            async with session.begin():  # a second transaction on the same session notifies again
                await outbox.record(session, name="y", aggregate_type="x", aggregate_id=3)
            await session.begin()
            await queue.enqueue(session, kind="k", payload={})
            await session.rollback()  # never committed: never heard
        await asyncio.sleep(0.3)
        assert seen[:2] == [(OUTBOX_CHANNEL, str(ids[0])), (JOBS_CHANNEL, str(ids[1]))]
        assert [c for c, _ in seen] == [OUTBOX_CHANNEL, JOBS_CHANNEL, OUTBOX_CHANNEL]


async def test_payloads_stay_small(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        if session.get_bind().dialect.name != "postgresql":
            assert not await notify(session, OUTBOX_CHANNEL, "x")
            return
        with pytest.raises(ValueError, match="8000"):
            await notify(session, OUTBOX_CHANNEL, "x" * 9000)
