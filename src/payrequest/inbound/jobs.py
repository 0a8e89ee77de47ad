"""Retrying a stored webhook whose application failed, and draining the inbox of batched
webhooks (inbound.drain).

The job acts for the organisation of the payment the event names (the webhook route enqueues
it so). An event kept before its payment was known (no organisation: the job acts for all of
them) is handed to a job of the payment's organisation once there is one: a session acting for
all organisations only reads, it writes no business rows (db.scope)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.db.scope import scope_of
from payrequest.inbound import drain, service
from payrequest.inbound.models import InboundEvent
from payrequest.jobs import queue
from payrequest.jobs.handlers import JobHandlers
from payrequest.kit.clock import utcnow
from payrequest.providers.base import PaymentProviders


def install(
    handlers: JobHandlers,
    *,
    providers: PaymentProviders,
    sessions: async_sessionmaker[AsyncSession],
    batch_size: int,
) -> None:
    @handlers.job(drain.DRAIN_JOB, max_attempts=50, timeout=drain.BUDGET * 2)
    async def drain_inbox(session: AsyncSession, _payload: dict[str, Any]) -> None:
        done = await drain.drain(sessions, providers, batch_size=batch_size)
        if done.more:
            await drain.wake_drain(session)

    @handlers.job(service.APPLY_JOB, max_attempts=50, timeout=timedelta(seconds=30))
    async def apply_inbound(session: AsyncSession, payload: dict[str, Any]) -> None:
        inbound = await session.get(InboundEvent, int(payload["inbound_id"]))
        if inbound is None or inbound.status in ("applied", "unmatched"):
            return
        event = providers.reader(inbound.provider).read_event(inbound.body.encode("utf-8"))
        if not isinstance(scope_of(session.sync_session), int):
            await hand_to_organisation(session, inbound=inbound, reference=event.reference)
            return
        await service.apply_stored(session, inbound=inbound, event=event)  # raises: retried


async def hand_to_organisation(
    session: AsyncSession, *, inbound: InboundEvent, reference: str
) -> None:
    """In a session acting for all organisations: give the event to the organisation of its
    payment, with a job that applies it there; unmatched when no payment has its reference."""
    organisation = await service.organisation_of(session, reference, provider=inbound.provider)
    if organisation is None:
        inbound.status, inbound.applied_at, inbound.error = "unmatched", utcnow(), None
        return
    inbound.organisation_id = organisation
    await queue.enqueue(
        session,
        kind=service.APPLY_JOB,
        payload={"inbound_id": inbound.id},
        dedupe_key=f"inbound:{inbound.id}:organisation:{organisation}",
        organisation_id=organisation,
    )
