"""Customer queries."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers.models import Customer


async def get(session: AsyncSession, customer_id: int) -> Customer | None:
    return await session.get(Customer, customer_id)


async def get_by_number(session: AsyncSession, number: str) -> Customer | None:
    result = await session.execute(select(Customer).where(Customer.number == number))
    return result.scalar_one_or_none()


async def search(
    session: AsyncSession, *, query: str = "", limit: int = 50, offset: int = 0
) -> list[Customer]:
    stmt = select(Customer).order_by(Customer.name, Customer.id).limit(limit).offset(offset)
    if query:
        like = f"%{query.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Customer.name).like(like),
                func.lower(Customer.number).like(like),
                func.lower(func.coalesce(Customer.email, "")).like(like),
                func.coalesce(Customer.phone, "").like(like),
            )
        )
    return list((await session.execute(stmt)).scalars())


async def next_number(session: AsyncSession) -> str:
    count = (await session.execute(select(func.count(Customer.id)))).scalar_one()
    return f"C-{1000 + count + 1}"
