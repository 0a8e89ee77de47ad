"""Read models of payment requests for the staff pages and the API: the lists across customers,
one request with its invoice links and its timeline, and the requests that asked for one
invoice."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from payrequest.customers.models import Customer
from payrequest.payment_requests.models import (
    PaymentRequest,
    PaymentRequestEvent,
    PaymentRequestInvoice,
)


async def newest_with_customer_names(
    session: AsyncSession, *, status: str | None, limit: int, offset: int
) -> list[tuple[PaymentRequest, str]]:
    """A page of every customer's requests, newest first, each with its customer's name;
    only those in `status` when given."""
    stmt = (
        select(PaymentRequest, Customer.name)
        .join(Customer, Customer.id == PaymentRequest.customer_id)
        .order_by(PaymentRequest.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if status is not None:
        stmt = stmt.where(PaymentRequest.status == status)
    return [(payment, name) for payment, name in await session.execute(stmt)]


async def newest_first(
    session: AsyncSession,
    *,
    limit: int,
    before_id: int | None = None,
    status: str | None = None,
    customer_id: int | None = None,
) -> list[PaymentRequest]:
    """Requests newest first, below `before_id` (a cursor); only those in `status` and of
    `customer_id` when given."""
    stmt = select(PaymentRequest).order_by(PaymentRequest.id.desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(PaymentRequest.id < before_id)
    if status is not None:
        stmt = stmt.where(PaymentRequest.status == status)
    if customer_id is not None:
        stmt = stmt.where(PaymentRequest.customer_id == customer_id)
    return list((await session.execute(stmt)).scalars())


async def with_invoice_links(session: AsyncSession, request_id: int) -> PaymentRequest | None:
    """One request with its invoice links loaded."""
    stmt = (
        select(PaymentRequest)
        .where(PaymentRequest.id == request_id)
        .options(selectinload(PaymentRequest.invoice_links))
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def timeline(session: AsyncSession, request_id: int) -> list[PaymentRequestEvent]:
    """A request's timeline (state changes, provider signals, notes), oldest first."""
    stmt = (
        select(PaymentRequestEvent)
        .where(PaymentRequestEvent.payment_request_id == request_id)
        .order_by(PaymentRequestEvent.occurred_at, PaymentRequestEvent.id)
    )
    return list((await session.execute(stmt)).scalars())


async def asking_for_invoice(
    session: AsyncSession, invoice_id: int
) -> list[tuple[PaymentRequest, PaymentRequestInvoice]]:
    """Every request that asked for this invoice, newest first, each with its link to it
    (what it planned to pay of it, whether it is still collecting it)."""
    stmt = (
        select(PaymentRequest, PaymentRequestInvoice)
        .join(PaymentRequestInvoice, PaymentRequestInvoice.payment_request_id == PaymentRequest.id)
        .where(PaymentRequestInvoice.invoice_id == invoice_id)
        .order_by(PaymentRequest.id.desc())
    )
    return [(payment, link) for payment, link in await session.execute(stmt)]
