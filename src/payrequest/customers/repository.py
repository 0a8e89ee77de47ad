"""Customer queries."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Row, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers.models import Customer, CustomerTag
from payrequest.kit.search import ESCAPE, like_pattern

_PHONE_LIKE = re.compile(r"\+?[\d\s().-]+")  # digits with the separators people type


async def get(session: AsyncSession, customer_id: int) -> Customer | None:
    return await session.get(Customer, customer_id)


async def lock(session: AsyncSession, customer_id: int) -> Customer | None:
    """The customer, its row locked until the transaction ends (PostgreSQL)."""
    stmt = select(Customer).where(Customer.id == customer_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def with_phone_locked(session: AsyncSession, phone: str) -> list[Customer]:
    """Every customer whose mobile number is `phone` (E.164) that the session may see (acting
    for all organisations: every organisation's), rows locked until the transaction ends."""
    stmt = select(Customer).where(Customer.phone == phone).order_by(Customer.id).with_for_update()
    return list((await session.execute(stmt)).scalars())


async def get_by_number(session: AsyncSession, number: str) -> Customer | None:
    result = await session.execute(select(Customer).where(Customer.number == number))
    return result.scalar_one_or_none()


async def get_by_external_id(session: AsyncSession, external_id: str) -> Customer | None:
    stmt = select(Customer).where(Customer.external_id == external_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def external_id_taken(
    session: AsyncSession, external_id: str, *, except_id: int | None = None
) -> bool:
    stmt = select(Customer.id).where(Customer.external_id == external_id)
    if except_id is not None:
        stmt = stmt.where(Customer.id != except_id)
    return (await session.execute(stmt.limit(1))).first() is not None


async def newest_first(
    session: AsyncSession, *, before_id: int | None, limit: int
) -> list[Customer]:
    """A page of customers, newest first, those older than `before_id` when given (a cursor:
    rows added meanwhile never shift the next page)."""
    stmt = select(Customer).order_by(Customer.id.desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(Customer.id < before_id)
    return list((await session.execute(stmt)).scalars())


async def search(
    session: AsyncSession, *, query: str = "", tag: str = "", limit: int = 50, offset: int = 0
) -> list[Customer]:
    """Customers by name, number, email or phone, case-insensitive in every alphabet (the
    folded `search_text`); `%` and `_` mean themselves. A phone number matches however it is
    spaced ("918 34 562", "+47 918 34 562"). With `tag` (as stored: customers.tags), only the
    customers that have it."""
    stmt = select(Customer).order_by(Customer.name, Customer.id).limit(limit).offset(offset)
    if query.strip():
        stmt = stmt.where(or_(*matching(query)))
    if tag:
        stmt = stmt.where(
            exists().where(CustomerTag.customer_id == Customer.id, CustomerTag.tag == tag)
        )
    return list((await session.execute(stmt)).scalars())


TAGS_PER_QUERY = 500  # customer ids in one IN list


async def tags_by_customer(
    session: AsyncSession, customer_ids: Iterable[int]
) -> dict[int, tuple[str, ...]]:
    """The tags of each customer, sorted; a customer without tags is left out. One query per
    `TAGS_PER_QUERY` customers, however many are asked about."""
    ids = sorted(set(customer_ids))
    found: dict[int, list[str]] = {}
    for start in range(0, len(ids), TAGS_PER_QUERY):
        rows = await session.execute(
            select(CustomerTag.customer_id, CustomerTag.tag)
            .where(CustomerTag.customer_id.in_(ids[start : start + TAGS_PER_QUERY]))
            .order_by(CustomerTag.customer_id, CustomerTag.tag)
        )
        for customer_id, tag in rows:
            found.setdefault(customer_id, []).append(tag)
    return {customer_id: tuple(tags) for customer_id, tags in found.items()}


async def tags_of(session: AsyncSession, customer_id: int) -> tuple[str, ...]:
    """The customer's tags, sorted."""
    return (await tags_by_customer(session, [customer_id])).get(customer_id, ())


async def tag_rows(session: AsyncSession, customer_id: int) -> list[CustomerTag]:
    """The customer's tag rows (to change them)."""
    stmt = select(CustomerTag).where(CustomerTag.customer_id == customer_id)
    return list((await session.scalars(stmt)).all())


async def menu(session: AsyncSession) -> list[Row[int, str, str, str]]:
    """(id, name, number, country) of every customer, by name: a menu to choose one from."""
    stmt = select(Customer.id, Customer.name, Customer.number, Customer.country)
    return list((await session.execute(stmt.order_by(Customer.name, Customer.id))).all())


async def total_count(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count(Customer.id)))).scalar_one())


def matching(query: str) -> list[ColumnElement[bool]]:
    """The conditions under which a customer matches `query` (any of them)."""
    conditions: list[ColumnElement[bool]] = [
        Customer.search_text.like(like_pattern(query), escape=ESCAPE)
    ]
    digits = phone_digits(query)
    if digits:
        conditions.append(Customer.search_text.like(f"%{digits}%"))
    return conditions


def phone_digits(query: str) -> str | None:
    """The digits of a query that looks like a phone number typed with spaces or dashes."""
    if not _PHONE_LIKE.fullmatch(query.strip()):
        return None
    digits = "".join(ch for ch in query if ch.isdigit())
    return digits if len(digits) >= 3 else None


async def next_number(session: AsyncSession) -> str:
    count = (await session.execute(select(func.count(Customer.id)))).scalar_one()
    return f"C-{1000 + count + 1}"
