"""Batched webhooks (PAYREQUEST_INBOUND__APPLY=batched): the request stores, the worker applies.

Acknowledging (`acknowledge`, on the webhook's request) is the inbox INSERT (deduplicated:
`ON CONFLICT DO NOTHING`), status `received`, plus a wake-up: a drain job, enqueued only when
none is waiting (a running one may already have looked), whose insert NOTIFYs the workers on
PostgreSQL. The provider's 2xx then means "stored", which is all Vipps MobilePay and Stripe need.

Draining (`drain`, the job `inbound.drain`, acting for all businesses) repeats until nothing is
left: for each business with received events, one transaction of that business claims up to
`batch_size` of them (`FOR UPDATE SKIP LOCKED`: two workers never take the same event), applies
them in the order they arrived with `apply.apply_event`, marks them applied or unmatched in one
statement, and commits once. Per-payment order is kept and a payment is never in two batches
at once: a claimed event is applied only when no earlier event for the same payment is still
waiting outside the batch (locked by another, or past the claim's limit); it then waits for a
later batch. The claim reads the inbox's (status, received_at) index, so its plan does not
depend on how many events wait or on fresh statistics. Idle, a batch is the one event there
is; under load it grows to `batch_size`, so commits (and their WAL flushes) are shared.

A failing event is isolated: the batch is rolled back, the event is kept as `failed` with the
retry job that applies it alone later (`inbound.apply`, as an event whose inline application
failed), and the batch is applied again without it. Events of no known payment (no business)
are marked unmatched, as inline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from time import monotonic
from typing import cast

from sqlalchemy import Select, Table, exists, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.db.pg_notify import JOBS_CHANNEL, notify
from payrequest.db.scope import ALL, scoped_to
from payrequest.inbound import service
from payrequest.inbound.models import InboundEvent
from payrequest.jobs import queue
from payrequest.jobs.models import Job
from payrequest.kit.clock import utcnow
from payrequest.payment_requests import apply
from payrequest.providers.base import PaymentProviders, ProviderEvent

DRAIN_JOB = "inbound.drain"
IDLE_WAIT = 0.05  # seconds, when every waiting event is another drain's
BUDGET = timedelta(seconds=20)  # a drain job's time before it hands over to the next one

log = logging.getLogger(__name__)


async def acknowledge(
    session: AsyncSession,
    *,
    provider: str,
    event: ProviderEvent,
    body: bytes,
    headers: dict[str, str],
    organisation_id: int | None,
) -> service.Received:
    """Store the verified event for the drain (status `received`) and wake a worker; in the
    caller's transaction. A duplicate stores nothing and wakes nobody."""
    inbound = await service.store(
        session,
        provider=provider,
        event=event,
        body=body,
        headers=headers,
        status="received",
        organisation_id=organisation_id,
    )
    if inbound is None:
        return service.Received(None, "duplicate")
    await wake_drain(session)
    return service.Received(inbound.id, inbound.status)


async def wake_drain(session: AsyncSession) -> None:
    """A queued drain job, unless one is already queued (it will see this event): at most one
    waits at any time, however many webhooks arrive. Two at once may both add one: harmless.
    The installation's own job (no business: it acts for all), written on the jobs table
    itself, whatever business the caller's session acts for."""
    jobs = cast(Table, Job.__table__)
    now = utcnow()
    waiting = exists().where(jobs.c.kind == DRAIN_JOB, jobs.c.status == "queued")
    values = select(
        literal(DRAIN_JOB),
        literal({}, jobs.c.payload.type),
        literal("queued"),
        literal(now, jobs.c.run_at.type),
        literal(0),
        literal(queue.DEFAULT_MAX_ATTEMPTS),
        literal(now, jobs.c.created_at.type),
        literal(now, jobs.c.updated_at.type),
    ).where(~waiting)
    columns = ["kind", "payload", "status", "run_at", "attempts", "max_attempts"]
    statement = insert(jobs).from_select([*columns, "created_at", "updated_at"], values)
    added = await session.execute(statement.returning(jobs.c.id))
    job_id = added.scalar_one_or_none()
    if job_id is not None:
        await notify(session, JOBS_CHANNEL, job_id)


@dataclass(frozen=True, slots=True)
class Drained:
    applied: int = 0
    unmatched: int = 0
    failed: int = 0
    batches: int = 0
    more: bool = False  # stopped with events left: another drain job should go on


async def drain(
    sessions: async_sessionmaker[AsyncSession],
    providers: PaymentProviders,
    *,
    batch_size: int,
    budget: timedelta = BUDGET,
) -> Drained:
    """Apply what has arrived, batch by batch, until nothing is left or `budget` is spent
    (then `more` is set: the caller wakes the next drain job). See the module."""
    total = Drained()
    ends = monotonic() + budget.total_seconds()
    while True:
        if monotonic() > ends:
            return replace(total, more=True)
        async with sessions(info=scoped_to(ALL)) as session, session.begin():
            owners = await _businesses_waiting(session)
            unmatched = await _unmatched_without_business(session)
        if not owners and not unmatched:
            return total
        total = Drained(total.applied, total.unmatched + unmatched, total.failed, total.batches)
        progress = unmatched
        for organisation_id in owners:
            done = await _batch(sessions, providers, organisation_id, batch_size)
            moved = done.applied + done.unmatched + done.failed
            progress += moved
            total = Drained(
                total.applied + done.applied,
                total.unmatched + done.unmatched,
                total.failed + done.failed,
                total.batches + (1 if moved else 0),
            )
        if not progress:  # what is left is another drain's, or waits behind it: let it commit
            await asyncio.sleep(IDLE_WAIT)


async def _businesses_waiting(session: AsyncSession) -> list[int]:
    query = (
        select(InboundEvent.organisation_id)
        .where(InboundEvent.status == "received", InboundEvent.organisation_id.is_not(None))
        .distinct()
        .limit(100)
    )
    return [int(found) for found in (await session.scalars(query)) if found is not None]


async def _unmatched_without_business(session: AsyncSession) -> int:
    """Events that arrived when no payment had their reference: unmatched, as inline."""
    marked = await session.execute(
        update(InboundEvent)
        .where(InboundEvent.status == "received", InboundEvent.organisation_id.is_(None))
        .values(status="unmatched", applied_at=utcnow())
        .returning(InboundEvent.id)
    )
    return len(marked.all())


def _claim(batch_size: int) -> Select[InboundEvent]:
    """The oldest received events not locked by another batch (the inbox's (status,
    received_at) index: the same plan whether the table holds a hundred rows or millions)."""
    return (
        select(InboundEvent)
        .where(InboundEvent.status == "received")
        .order_by(InboundEvent.received_at, InboundEvent.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )


async def _in_order(session: AsyncSession, claimed: Sequence[InboundEvent]) -> list[InboundEvent]:
    """The claimed events that may be applied now, in the order they arrived: not one whose
    payment has an earlier event still waiting outside this batch (another batch holds it, or
    the claim's limit left it out); that one waits for a later batch."""
    ours = {inbound.id for inbound in claimed}
    references = {inbound.reference for inbound in claimed if inbound.reference}
    waiting = await session.execute(
        select(InboundEvent.provider, InboundEvent.reference, InboundEvent.id).where(
            InboundEvent.status == "received", InboundEvent.reference.in_(references)
        )
    )
    first_outside: dict[tuple[str, str | None], int] = {}
    for provider, reference, inbound_id in waiting:
        if inbound_id not in ours:
            key = (provider, reference)
            first_outside[key] = min(inbound_id, first_outside.get(key, inbound_id))
    ready = [
        inbound
        for inbound in claimed
        if inbound.id < first_outside.get((inbound.provider, inbound.reference), inbound.id + 1)
    ]
    return sorted(ready, key=lambda inbound: inbound.id)


class _SetAside(Exception):
    def __init__(self, inbound_id: int, error: Exception) -> None:
        super().__init__(inbound_id)
        self.inbound_id = inbound_id
        self.error = error


async def _batch(
    sessions: async_sessionmaker[AsyncSession],
    providers: PaymentProviders,
    organisation_id: int,
    batch_size: int,
) -> Drained:
    """One transaction of the business: claim, apply in order, mark, commit. A failing event
    is set aside (kept failed, retried alone) and the rest applied again without it."""
    failed = 0
    while True:
        try:
            async with sessions(info=scoped_to(organisation_id)) as session, session.begin():
                return await _apply_claimed(session, providers, batch_size, failed)
        except _SetAside as aside:  # the batch rolled back
            await _set_aside(sessions, organisation_id, aside.inbound_id, aside.error)
            failed += 1


async def _apply_claimed(
    session: AsyncSession, providers: PaymentProviders, batch_size: int, failed: int
) -> Drained:
    claimed = await _in_order(session, (await session.scalars(_claim(batch_size))).all())
    applied: list[int] = []
    unmatched: list[int] = []
    for inbound in claimed:
        try:
            event = providers.reader(inbound.provider).read_event(inbound.body.encode("utf-8"))
            result = await apply.apply_event(session, event=event, source="webhook")
        except Exception as exc:  # isolated: kept and retried alone
            raise _SetAside(inbound.id, exc) from exc
        (applied if result.request is not None else unmatched).append(inbound.id)
    now = utcnow()
    for ids, status in ((applied, "applied"), (unmatched, "unmatched")):
        if ids:
            await session.execute(
                update(InboundEvent)
                .where(InboundEvent.id.in_(ids))
                .values(status=status, applied_at=now, error=None),
                execution_options={"synchronize_session": False},
            )
    return Drained(len(applied), len(unmatched), failed)


async def _set_aside(
    sessions: async_sessionmaker[AsyncSession],
    organisation_id: int,
    inbound_id: int,
    exc: Exception,
) -> None:
    log.error("applying webhook %s failed; kept for a retry alone", inbound_id, exc_info=exc)
    async with sessions(info=scoped_to(organisation_id)) as session, session.begin():
        inbound = await session.get(InboundEvent, inbound_id, with_for_update=True)
        if inbound is None or inbound.status != "received":
            return
        inbound.status = "failed"
        inbound.error = service.describe(exc)
        await queue.enqueue(
            session,
            kind=service.APPLY_JOB,
            payload={"inbound_id": inbound.id},
            dedupe_key=f"inbound:{inbound.id}",
        )
