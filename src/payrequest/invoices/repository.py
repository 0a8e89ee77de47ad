"""Invoice queries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from payrequest.invoices.models import Invoice


async def get(
    session: AsyncSession, invoice_id: int, *, with_lines: bool = False
) -> Invoice | None:
    stmt = select(Invoice).where(Invoice.id == invoice_id)
    if with_lines:
        stmt = stmt.options(selectinload(Invoice.lines))
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_by_number(session: AsyncSession, number: str) -> Invoice | None:
    result = await session.execute(select(Invoice).where(Invoice.number == number))
    return result.scalar_one_or_none()


async def for_customer(session: AsyncSession, customer_id: int) -> list[Invoice]:
    stmt = (
        select(Invoice)
        .where(Invoice.customer_id == customer_id)
        .order_by(Invoice.due_date, Invoice.id)
    )
    return list((await session.execute(stmt)).scalars())


async def many(
    session: AsyncSession, invoice_ids: Sequence[int], *, for_update: bool = False
) -> list[Invoice]:
    stmt = select(Invoice).where(Invoice.id.in_(invoice_ids)).order_by(Invoice.id)
    if for_update:
        stmt = stmt.with_for_update()
    return list((await session.execute(stmt)).scalars())
