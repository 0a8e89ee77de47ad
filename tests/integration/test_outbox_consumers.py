"""The outbox feeds several consumers, each on its own (issue 17): the webhooks' consumer keeps
its own position and receipts, takes an event whose transaction committed after events with
higher ids were handled, passes a hole that never fills only after PATIENCE, never hands one
event to two takers, and neither waits for the automations' dispatcher nor holds it back."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from payrequest.automations.dispatch import dispatch
from payrequest.db.scope import ALL, scoped_to
from payrequest.events import consumers, names, outbox
from payrequest.events.models import OutboxEvent, OutboxReceipt
from payrequest.kit.clock import utcnow
from payrequest.kit.urls import PublicUrls
from payrequest.webhooks.fanout import CONSUMER
from payrequest.webhooks.models import WebhookDelivery, WebhookEvent
from tests.integration.test_webhooks import Hooks, an_invoice, build_hooks
from tests.integration.webhook_receiver import receiving

Sessions = async_sessionmaker[AsyncSession]
NAME = "test-consumer"


async def _record(sessions: Sessions, count: int = 1) -> list[int]:
    ids = []
    for _ in range(count):
        async with sessions() as session, session.begin():
            event = await outbox.record(
                session, name=names.INVOICE_UPDATED, aggregate_type="invoice", aggregate_id=1
            )
            await session.flush()
            ids.append(event.id)
    return ids


async def _pass(sessions: Sessions, *, now_offset: timedelta = timedelta(0)) -> list[int]:
    """One consumer pass: take, then mark handled; the ids taken."""
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        taken = [event.id for event in await consumers.take(session, NAME, limit=100)]
        await consumers.handled(session, NAME, taken, now=utcnow() + now_offset)
        return taken


async def _position(sessions: Sessions) -> int:
    async with sessions(info=scoped_to(ALL)) as session:
        return await consumers.position(session, NAME)


async def _receipts(sessions: Sessions) -> int:
    async with sessions(info=scoped_to(ALL)) as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxReceipt)) or 0)


async def test_an_event_committed_after_higher_ids_were_handled_is_still_taken(
    sessions: Sessions,
) -> None:
    """The late transaction, played on both databases: the middle event is not there when
    the consumer passes (as if its transaction were still open), then it is."""
    first, middle, last = await _record(sessions, 3)
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        row = await session.get(OutboxEvent, middle)
        assert row is not None
        kept = {c: getattr(row, c) for c in ("name", "aggregate_type", "aggregate_id")}
        await session.execute(delete(OutboxEvent).where(OutboxEvent.id == middle))
    assert await _pass(sessions) == [first, last]
    assert await _position(sessions) == first  # it cannot pass the missing id
    assert await _pass(sessions) == []  # `last` has its receipt: not taken twice
    async with sessions() as session, session.begin():  # ... and now it commits
        session.add(OutboxEvent(id=middle, customer_id=None, payload={}, **kept))
    assert await _pass(sessions) == [middle]
    assert await _position(sessions) == last
    assert await _receipts(sessions) == 0  # everything up to the position: no receipts kept


async def test_a_transaction_left_open_on_postgresql_is_waited_for(
    sessions: Sessions, engine: AsyncEngine
) -> None:
    """PostgreSQL hands out ids before commit: a real open transaction with a lower id."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: ids commit in order")
    (before,) = await _record(sessions)
    async with sessions() as slow:
        await slow.begin()
        late = await outbox.record(
            slow, name=names.INVOICE_PAID, aggregate_type="invoice", aggregate_id=1
        )
        await slow.flush()
        (after,) = await _record(sessions)
        assert before < late.id < after
        assert await _pass(sessions) == [before, after]
        assert await _position(sessions) == before
        await slow.commit()
    assert await _pass(sessions) == [late.id]
    assert await _position(sessions) == after


async def test_a_hole_that_never_fills_is_passed_after_the_patience(sessions: Sessions) -> None:
    first, lost, last = await _record(sessions, 3)
    async with sessions(info=scoped_to(ALL)) as session, session.begin():  # rolled back, say
        await session.execute(delete(OutboxEvent).where(OutboxEvent.id == lost))
    assert await _pass(sessions) == [first, last]
    assert await _pass(sessions, now_offset=consumers.PATIENCE - timedelta(seconds=5)) == []
    assert await _position(sessions) == first
    assert await _pass(sessions, now_offset=consumers.PATIENCE + timedelta(seconds=5)) == []
    assert await _position(sessions) == last
    assert await _receipts(sessions) == 0


async def test_two_takers_at_once_take_every_event_once(sessions: Sessions) -> None:
    recorded = await _record(sessions, 30)
    taken: list[list[int]] = []

    async def taker() -> None:
        for _ in range(3):
            async with sessions(info=scoped_to(ALL)) as session, session.begin():
                got = [event.id for event in await consumers.take(session, NAME, limit=7)]
                await asyncio.sleep(0)  # let the other taker try meanwhile
                await consumers.handled(session, NAME, got)
            taken.append(got)

    await asyncio.gather(taker(), taker())
    rest = await _pass(sessions)
    every = [event_id for batch in taken for event_id in batch] + rest
    assert sorted(every) == recorded  # none twice, none left out
    assert await _position(sessions) == recorded[-1]


async def test_the_automations_get_every_event_while_the_webhooks_fail(
    sessions: Sessions,
) -> None:
    hooks: Hooks = build_hooks(sessions)
    invoices = [await an_invoice(sessions) for _ in range(3)]
    try:
        async with receiving(otherwise=503) as receiver:
            await hooks.endpoint(receiver.url(), ["invoice.paid"])
            for invoice in invoices:
                await hooks.announce(names.INVOICE_PAID, "invoice", invoice)
            await hooks.run()
            await hooks.run()
            async with sessions(info=scoped_to(ALL)) as session, session.begin():
                assert await dispatch(session, urls=PublicUrls("https://pay.example.no")) > 0
            await hooks.run()  # the webhooks' consumer does not mind the dispatcher
    finally:
        await hooks.services.sender.close()
    async with sessions(info=scoped_to(ALL)) as session:
        undispatched = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.dispatched_at.is_(None))
        )
        published = await session.scalar(select(func.count()).select_from(WebhookEvent))
        statuses = list(await session.scalars(select(WebhookDelivery.status)))
        newest = await session.scalar(select(func.max(OutboxEvent.id)))
        position = await consumers.position(session, CONSUMER)
    assert undispatched == 0  # every event went past the automations
    assert published == 3 and statuses == ["pending"] * 3  # once each, still being retried
    assert position == newest
    assert len(receiver.received) == 3  # one try each so far: none twice
