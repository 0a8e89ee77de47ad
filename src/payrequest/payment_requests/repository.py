"""Payment request queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from payrequest.payment_requests.models import (
    PaymentRequest,
    PaymentRequestEvent,
    PaymentRequestInvoice,
)
from payrequest.payment_requests.state import ACTIVE


async def get(session: AsyncSession, request_id: int) -> PaymentRequest | None:
    return await session.get(PaymentRequest, request_id)


async def lock(session: AsyncSession, *, reference: str) -> PaymentRequest | None:
    """The request, locked until the transaction ends (SELECT ... FOR UPDATE)."""
    stmt = (
        select(PaymentRequest)
        .where(PaymentRequest.reference == reference)
        .options(selectinload(PaymentRequest.invoice_links))
        .with_for_update()
    )
    return (await session.execute(stmt)).scalar_one_or_none()


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


async def has_provider_event(
    session: AsyncSession, *, request_id: int, name: str, provider_ref: str
) -> bool:
    stmt = select(func.count(PaymentRequestEvent.id)).where(
        PaymentRequestEvent.payment_request_id == request_id,
        PaymentRequestEvent.provider_event == name,
        PaymentRequestEvent.provider_ref == provider_ref,
    )
    return bool((await session.execute(stmt)).scalar_one())


async def chain_length(session: AsyncSession, root_id: int) -> int:
    """How many retries hang off the first request of a chain."""
    stmt = select(func.count(PaymentRequest.id)).where(PaymentRequest.retry_of_id == root_id)
    return int((await session.execute(stmt)).scalar_one())
