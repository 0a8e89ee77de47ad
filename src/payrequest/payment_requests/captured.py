"""Read model of captured payments (the money paid requests took in) for the API: a page of
them newest first, or one, each with the ledger's rows for it: where its money went
(allocations, and their reversals by refunds), the credit it left, and its refunds. A page
costs four queries, however long."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.ledger.models import Allocation, Credit, Refund
from payrequest.payment_requests.models import PaymentRequest


@dataclass(frozen=True, slots=True)
class Captured:
    request: PaymentRequest
    allocations: tuple[Allocation, ...]  # oldest first, reversals included
    credit: Credit | None  # what no invoice took
    refunds: tuple[Refund, ...]  # oldest first, of every status


def captured_at() -> ColumnElement[datetime]:
    """When a captured payment counts as made: the `created` of its public object
    (payrequest.public.payment: when the request finished, else when it last changed)."""
    return func.coalesce(PaymentRequest.finished_at, PaymentRequest.updated_at)


async def newest_first(
    session: AsyncSession,
    *,
    limit: int,
    before_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Captured]:
    """Captured payments, newest first: below `before_id` (a cursor), made at or after `since`
    and before `until` when given."""
    stmt = (
        select(PaymentRequest)
        .where(PaymentRequest.captured_amount > 0)
        .order_by(PaymentRequest.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        stmt = stmt.where(PaymentRequest.id < before_id)
    if since is not None:
        stmt = stmt.where(captured_at() >= since)
    if until is not None:
        stmt = stmt.where(captured_at() < until)
    return await _with_rows(session, list((await session.execute(stmt)).scalars()))


async def one(session: AsyncSession, request_id: int) -> Captured | None:
    """The payment request `request_id` captured; None if it captured nothing."""
    request = await session.get(PaymentRequest, request_id)
    if request is None or request.captured_amount <= 0:
        return None
    [found] = await _with_rows(session, [request])
    return found


async def _with_rows(session: AsyncSession, requests: Sequence[PaymentRequest]) -> list[Captured]:
    ids = [r.id for r in requests]
    if not ids:
        return []
    allocations: dict[int, list[Allocation]] = {}
    stmt_a = (
        select(Allocation).where(Allocation.payment_request_id.in_(ids)).order_by(Allocation.id)
    )
    for allocation in (await session.execute(stmt_a)).scalars():
        assert allocation.payment_request_id is not None
        allocations.setdefault(allocation.payment_request_id, []).append(allocation)
    credits: dict[int, Credit] = {}
    for credit in (
        await session.execute(select(Credit).where(Credit.payment_request_id.in_(ids)))
    ).scalars():
        assert credit.payment_request_id is not None
        credits[credit.payment_request_id] = credit
    refunds: dict[int, list[Refund]] = {}
    stmt_r = select(Refund).where(Refund.payment_request_id.in_(ids)).order_by(Refund.id)
    for refund in (await session.execute(stmt_r)).scalars():
        refunds.setdefault(refund.payment_request_id, []).append(refund)
    return [
        Captured(
            request=r,
            allocations=tuple(allocations.get(r.id, ())),
            credit=credits.get(r.id),
            refunds=tuple(refunds.get(r.id, ())),
        )
        for r in requests
    ]
