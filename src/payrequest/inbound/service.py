"""Receive a verified provider webhook: store it once, apply it, always acknowledge.

A duplicate (same dedupe key) is a no-op. An event we cannot place yet (unknown reference) is
kept as `unmatched`. If applying fails unexpectedly, the row is kept as `failed` with a retry
job, and the webhook is still acknowledged: a non-2xx would hold back every later event for
that payment at Vipps MobilePay.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.inbound.models import InboundEvent
from payrequest.jobs import queue
from payrequest.kit.clock import utcnow
from payrequest.payment_requests import apply
from payrequest.providers.base import ProviderEvent

APPLY_JOB = "inbound.apply"
KEPT_HEADERS = ("x-ms-date", "x-ms-content-sha256", "user-agent", "webhook-id", "content-type")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Received:
    inbound_id: int | None  # None: a duplicate of an event already stored
    status: str


def dedupe_key(event: ProviderEvent) -> str:
    return ":".join(
        (event.merchant_id or "", event.reference, event.psp_reference, event.name.value)
    )


async def store(
    session: AsyncSession,
    *,
    provider: str,
    event: ProviderEvent,
    body: bytes,
    headers: dict[str, str],
) -> InboundEvent | None:
    """Insert the raw event unless its dedupe key is already stored (then None)."""
    kept = {k: v for k, v in headers.items() if k.lower() in KEPT_HEADERS}
    values: dict[str, Any] = {
        "provider": provider,
        "dedupe_key": dedupe_key(event),
        "reference": event.reference,
        "event_name": event.name.value,
        "body": body.decode("utf-8", "replace"),
        "headers": kept,
        "status": "received",
        "received_at": utcnow(),
    }
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(InboundEvent)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["provider", "dedupe_key"])
        .returning(InboundEvent.id)
    )
    inbound_id = (await session.execute(statement)).scalar_one_or_none()
    if inbound_id is None:
        return None
    return await session.get(InboundEvent, inbound_id)


async def receive(
    session: AsyncSession,
    *,
    provider: str,
    event: ProviderEvent,
    body: bytes,
    headers: dict[str, str],
) -> Received:
    inbound = await store(session, provider=provider, event=event, body=body, headers=headers)
    if inbound is None:
        return Received(None, "duplicate")
    await apply_stored(session, inbound=inbound, event=event)
    return Received(inbound.id, inbound.status)


async def apply_stored(
    session: AsyncSession, *, inbound: InboundEvent, event: ProviderEvent
) -> None:
    try:
        async with session.begin_nested():
            result = await apply.apply_event(session, event=event, source="webhook")
    except Exception as exc:
        log.exception("applying webhook %s failed", inbound.dedupe_key)
        inbound.status = "failed"
        inbound.error = f"{exc.__class__.__name__}: {exc}"[:2000]
        await queue.enqueue(
            session,
            kind=APPLY_JOB,
            payload={"inbound_id": inbound.id},
            dedupe_key=f"inbound:{inbound.id}",
        )
        return
    inbound.status = "applied" if result.request is not None else "unmatched"
    inbound.applied_at = utcnow()
    await session.flush()
