"""Receive a verified provider webhook: store it once, apply it, always acknowledge.

A duplicate (same dedupe key) is a no-op. An event we cannot place yet (unknown reference) is
kept as `unmatched`. If applying fails unexpectedly, the caller rolls its transaction back and
calls `keep_failed` in a new one: the row is kept as `failed` with a retry job, and the webhook
is still acknowledged (a non-2xx would make the provider send it again, and some hold back
every later event for that payment until it is answered). The common case, applied at once,
is one INSERT of the row already marked `applied`: no savepoint, no second write to the row.

An authentic body that is not an event we can read (`[]`, `null`, a field missing, a
reference longer than the inbox keeps) is kept as `unusable` with the reason, for the
operations page, and acknowledged all the same: it is never applied, and holds nothing back.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.connections.models import ProviderConnection
from payrequest.db.dialect import per_dialect
from payrequest.inbound.models import InboundEvent
from payrequest.jobs import queue
from payrequest.kit.clock import utcnow
from payrequest.payment_requests import apply
from payrequest.payment_requests.models import PaymentRequest
from payrequest.providers.base import ProviderEvent

APPLY_JOB = "inbound.apply"
# The inbox's columns (inbound/models.py): an event whose fields do not fit is kept unusable.
MAX_REFERENCE = 64
MAX_DEDUPE_KEY = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
KEPT_HEADERS = ("x-ms-date", "x-ms-content-sha256", "user-agent", "webhook-id", "content-type")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Received:
    inbound_id: int | None  # None: a duplicate of an event already stored
    status: str


def dedupe_key(event: ProviderEvent) -> str:
    return event.dedupe_key


async def store(
    session: AsyncSession,
    *,
    provider: str,
    event: ProviderEvent,
    body: bytes,
    headers: dict[str, str],
    status: str,
    error: str | None = None,
    organisation_id: int | None = None,
) -> InboundEvent | None:
    """Insert the raw event unless its dedupe key is already stored (then None). It belongs
    to `organisation_id`, the organisation of the payment it names (None: no payment has its
    reference; such a row is nobody's, seen only by work for all organisations)."""
    return await _insert(
        session,
        organisation_id=organisation_id,
        provider=provider,
        key=dedupe_key(event),
        reference=event.reference,
        event_name=event.name.value,
        body=body,
        headers=headers,
        status=status,
        error=error,
    )


async def _insert(
    session: AsyncSession,
    *,
    organisation_id: int | None,
    provider: str,
    key: str,
    reference: str | None,
    event_name: str | None,
    body: bytes,
    headers: dict[str, str],
    status: str,
    error: str | None,
) -> InboundEvent | None:
    kept = {k: v for k, v in headers.items() if k.lower() in KEPT_HEADERS}
    now = utcnow()
    values: dict[str, Any] = {
        "organisation_id": organisation_id,
        "provider": provider,
        "dedupe_key": key,
        "reference": reference,
        "event_name": event_name,
        "body": _text(body.decode("utf-8", "replace")),
        "headers": kept,
        "status": status,
        "error": _text(error) if error is not None else None,
        "received_at": now,
        "applied_at": now if status == "applied" else None,
    }
    inbound: InboundEvent | None = (await session.scalars(_STORE(session), values)).one_or_none()
    return inbound


def _text(value: str) -> str:
    """Text as the database keeps it: PostgreSQL refuses NUL."""
    return value.replace("\x00", "\ufffd")


def unusable_reason(event: ProviderEvent) -> str | None:
    """Why an authentic, parsed event cannot go into the inbox as an event (None: it can)."""
    texts = (event.reference, event.psp_reference, event.merchant_id, event.idempotency_key)
    if not all(text is None or isinstance(text, str) for text in texts):
        return "a field that should be text is not"
    if any(text and _CONTROL.search(text) for text in texts):
        return "a field holds a control character"
    if len(event.reference) > MAX_REFERENCE:
        return f"the reference is longer than {MAX_REFERENCE} characters"
    if len(dedupe_key(event)) > MAX_DEDUPE_KEY:
        return "the reference, pspReference and msn together are too long to be kept"
    return None


async def keep_unusable(
    session: AsyncSession,
    *,
    provider: str,
    body: bytes,
    headers: dict[str, str],
    reason: str,
) -> Received:
    """Keep an authentic body that is not an event we can read: never applied, shown on the
    operations page. The same body delivered again is a duplicate."""
    log.warning("unusable webhook kept: %s", reason)
    inbound = await _insert(
        session,
        organisation_id=None,  # not an event of any payment: the installation's
        provider=provider,
        key="unusable:" + hashlib.sha256(body).hexdigest(),
        reference=None,
        event_name=None,
        body=body,
        headers=headers,
        status="unusable",
        error=reason[:2000],
    )
    if inbound is None:
        return Received(None, "duplicate")
    return Received(inbound.id, inbound.status)


_STORE = per_dialect(
    lambda insert: (
        insert(InboundEvent)
        .on_conflict_do_nothing(index_elements=["provider", "dedupe_key"])
        .returning(InboundEvent)
    )
)


async def receive(
    session: AsyncSession,
    *,
    provider: str,
    event: ProviderEvent,
    body: bytes,
    headers: dict[str, str],
    organisation_id: int | None = None,
) -> Received:
    """Store and apply in the caller's transaction, a session acting for `organisation_id`
    (`organisation_of` the event's reference; all organisations when it is None).

    An exception from applying leaves the transaction unusable: roll it back and call
    `keep_failed` in a fresh one."""
    inbound = await store(
        session,
        provider=provider,
        event=event,
        body=body,
        headers=headers,
        status="applied",
        organisation_id=organisation_id,
    )
    if inbound is None:
        return Received(None, "duplicate")
    result = await apply.apply_event(session, event=event, source="webhook")
    if result.request is None:
        inbound.status = "unmatched"
        inbound.applied_at = None
    return Received(inbound.id, inbound.status)


async def keep_failed(
    session: AsyncSession,
    *,
    provider: str,
    event: ProviderEvent,
    body: bytes,
    headers: dict[str, str],
    error: BaseException,
    organisation_id: int | None = None,
) -> Received:
    """Keep an event whose application failed, with a job that applies it again later, for
    the same organisation."""
    log.error("applying webhook %s failed", dedupe_key(event), exc_info=error)
    inbound = await store(
        session,
        provider=provider,
        event=event,
        body=body,
        headers=headers,
        status="failed",
        error=describe(error),
        organisation_id=organisation_id,
    )
    if inbound is None:  # another delivery stored it meanwhile
        return Received(None, "duplicate")
    await queue.enqueue(
        session,
        kind=APPLY_JOB,
        payload={"inbound_id": inbound.id},
        dedupe_key=f"inbound:{inbound.id}",
        organisation_id=organisation_id,
    )
    return Received(inbound.id, inbound.status)


async def organisation_of(
    session: AsyncSession,
    reference: str,
    *,
    installation_connection: bool = False,
    provider: str | None = None,
) -> int | None:
    """The organisation of the payment request with `reference` (None: there is none). The
    one lookup made before the organisation is known: `session` acts for all of them.
    `provider`: only among its payments. `installation_connection`: only among organisations
    without a connection of their own to that provider (a webhook to the installation's URL
    is no other connection's business)."""
    query = select(PaymentRequest.organisation_id).where(PaymentRequest.reference == reference)
    if provider is not None:
        query = query.where(PaymentRequest.provider == provider)
    if installation_connection:
        own = ProviderConnection.organisation_id == PaymentRequest.organisation_id
        if provider is not None:
            own = own & (ProviderConnection.provider == provider)
        query = query.where(~exists().where(own))
    found = await session.scalar(query)
    return None if found is None else int(found)


async def apply_stored(
    session: AsyncSession, *, inbound: InboundEvent, event: ProviderEvent
) -> None:
    """Apply a stored event again (the retry job); an exception fails that job's attempt."""
    result = await apply.apply_event(session, event=event, source="webhook")
    inbound.status = "applied" if result.request is not None else "unmatched"
    inbound.applied_at = utcnow()
    inbound.error = None
    await session.flush()


def describe(error: BaseException) -> str:
    return f"{error.__class__.__name__}: {error}"[:2000]
