"""Payment request queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from payrequest.db.dialect import per_dialect
from payrequest.payment_requests.models import (
    PaymentRequest,
    PaymentRequestEvent,
    PaymentRequestInvoice,
)
from payrequest.payment_requests.state import ACTIVE
from payrequest.providers.base import AccountRefusal


async def get(session: AsyncSession, request_id: int) -> PaymentRequest | None:
    return await session.get(PaymentRequest, request_id)


async def provider_of(session: AsyncSession, request_id: int) -> str | None:
    """The name of the provider the request goes through (None: no such request)."""
    stmt = select(PaymentRequest.provider).where(PaymentRequest.id == request_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock(session: AsyncSession, *, reference: str) -> PaymentRequest | None:
    """The request with its invoice links, the request row locked until the transaction ends
    (one SELECT ... JOIN ... FOR UPDATE OF payment_requests)."""
    result = await session.execute(_LOCK, {"reference": reference})
    return result.unique().scalar_one_or_none()


_LOCK = (  # built once: every webhook runs it
    select(PaymentRequest)
    .where(PaymentRequest.reference == bindparam("reference"))
    .options(joinedload(PaymentRequest.invoice_links))
    .with_for_update(of=PaymentRequest)
)


@dataclass(frozen=True, slots=True)
class AtProvider:
    """Where a request's payment lives: the provider's name and its key there."""

    provider: str
    key: str


async def at_provider(session: AsyncSession, reference: str) -> AtProvider | None:
    """The provider and key of the request with `reference` (None: no such request)."""
    stmt = select(
        PaymentRequest.provider, PaymentRequest.provider_reference, PaymentRequest.reference
    ).where(PaymentRequest.reference == reference)
    row = (await session.execute(stmt)).one_or_none()
    return None if row is None else AtProvider(row[0], row[1] or row[2])


async def by_reference(session: AsyncSession, reference: str) -> PaymentRequest | None:
    stmt = select(PaymentRequest).where(PaymentRequest.reference == reference)
    return (await session.execute(stmt)).scalar_one_or_none()


async def active_for_invoices(
    session: AsyncSession, invoice_ids: Sequence[int]
) -> list[PaymentRequestInvoice]:
    stmt = select(PaymentRequestInvoice).where(
        PaymentRequestInvoice.invoice_id.in_(invoice_ids), PaymentRequestInvoice.active.is_(True)
    )
    return list((await session.execute(stmt)).scalars())


async def invoices_in_active_requests(
    session: AsyncSession, invoice_ids: Sequence[int]
) -> set[int]:
    """Which of these invoices a payment request is collecting (the ledger's `InRequests`)."""
    return {link.invoice_id for link in await active_for_invoices(session, invoice_ids)}


async def refusal(session: AsyncSession, request_id: int) -> AccountRefusal | None:
    """Why a failed request was refused, when it was about the provider account (not this
    payment): kept in the details of its step to `failed` (`apply.Failure`)."""
    stmt = (
        select(PaymentRequestEvent.details)
        .where(
            PaymentRequestEvent.payment_request_id == request_id,
            PaymentRequestEvent.kind == "state_changed",
            PaymentRequestEvent.to_status == "failed",
        )
        .order_by(PaymentRequestEvent.id.desc())
        .limit(1)
    )
    details = (await session.execute(stmt)).scalar_one_or_none() or {}
    try:
        return AccountRefusal(str(details.get("refusal")))
    except ValueError:
        return None  # refused for this payment alone, or not refused


async def links(session: AsyncSession, request_id: int) -> list[PaymentRequestInvoice]:
    stmt = select(PaymentRequestInvoice).where(
        PaymentRequestInvoice.payment_request_id == request_id
    )
    return list((await session.execute(stmt.order_by(PaymentRequestInvoice.id))).scalars())


async def for_customer(
    session: AsyncSession, customer_id: int, *, limit: int = 50
) -> list[PaymentRequest]:
    stmt = (
        select(PaymentRequest)
        .where(PaymentRequest.customer_id == customer_id)
        .options(selectinload(PaymentRequest.invoice_links))
        .order_by(PaymentRequest.id.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def due_for_poll(session: AsyncSession, *, now: datetime, limit: int) -> list[PaymentRequest]:
    statuses = [s.value for s in ACTIVE]
    stmt = (
        select(PaymentRequest)
        .where(
            PaymentRequest.status.in_(statuses),
            PaymentRequest.next_poll_at.is_not(None),
            PaymentRequest.next_poll_at <= now,
        )
        .order_by(PaymentRequest.next_poll_at)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def record_provider_event(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Add a provider signal to a request's timeline unless that same event (request, name,
    provider reference) is already there: one INSERT ... ON CONFLICT DO NOTHING. Returns
    whether it was new."""
    row = {**values, "kind": "provider_signal"}  # the columns' defaults fill in the rest
    return (await session.execute(_RECORD_SIGNAL(session), row)).scalar_one_or_none() is not None


_RECORD_SIGNAL = per_dialect(
    lambda insert: (
        insert(PaymentRequestEvent)
        .on_conflict_do_nothing(
            index_elements=["payment_request_id", "provider_event", "provider_ref"]
        )
        .returning(PaymentRequestEvent.id)
    )
)


async def chain_length(session: AsyncSession, root_id: int) -> int:
    """How many retries hang off the first request of a chain."""
    stmt = select(func.count(PaymentRequest.id)).where(PaymentRequest.retry_of_id == root_id)
    return int((await session.execute(stmt)).scalar_one())


async def newest_in_chain(
    session: AsyncSession, root_id: int, *, customer_id: int
) -> PaymentRequest:
    """The newest attempt of the chain that starts at `root_id` (the root itself if it was
    never retried). A chain belongs to one customer, which keeps this on their index."""
    stmt = (
        select(PaymentRequest)
        .where(
            PaymentRequest.customer_id == customer_id,
            or_(PaymentRequest.id == root_id, PaymentRequest.retry_of_id == root_id),
        )
        .order_by(PaymentRequest.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one()


async def newest_attempts(
    session: AsyncSession, customer_id: int, requests: Sequence[PaymentRequest]
) -> set[int]:
    """Which of `requests` (one customer's) are the newest attempt of their chain: only
    those may be retried."""
    roots = {r.retry_of_id or r.id for r in requests}
    if not roots:
        return set()
    stmt = select(PaymentRequest.id, PaymentRequest.retry_of_id).where(
        PaymentRequest.customer_id == customer_id,
        or_(PaymentRequest.id.in_(roots), PaymentRequest.retry_of_id.in_(roots)),
    )
    newest: dict[int, int] = {}
    for request_id, retry_of_id in (await session.execute(stmt)).all():
        root = retry_of_id or request_id
        newest[root] = max(newest.get(root, 0), request_id)
    return set(newest.values())
