"""Read models of the webhook inbox for the operations page: events per status, and the
newest events with the payment request each one names."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.inbound.models import INBOX_STATUSES, InboundEvent
from payrequest.payment_requests.models import PaymentRequest


@dataclass(frozen=True, slots=True)
class InboxRow:
    event: InboundEvent
    request_id: int | None  # the payment request with this reference, if there is one


async def counts_by_status(session: AsyncSession) -> dict[str, int]:
    """{status: n} with every inbox status present."""
    rows = await session.execute(
        select(InboundEvent.status, func.count()).group_by(InboundEvent.status)
    )
    counts = dict.fromkeys(INBOX_STATUSES, 0)
    counts.update({str(name): int(n) for name, n in rows})
    return counts


async def newest(session: AsyncSession, *, status: str | None, limit: int) -> list[InboxRow]:
    """The newest events (only those in `status` when given), each with its request's id."""
    stmt = (
        select(InboundEvent, PaymentRequest.id)
        .outerjoin(PaymentRequest, PaymentRequest.reference == InboundEvent.reference)
        .order_by(InboundEvent.id.desc())
        .limit(limit)
    )
    if status is not None:
        stmt = stmt.where(InboundEvent.status == status)
    return [InboxRow(event, request_id) for event, request_id in (await session.execute(stmt))]
