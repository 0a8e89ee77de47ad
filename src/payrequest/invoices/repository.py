"""Invoice queries."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import bindparam, select
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


async def get_by_external_id(
    session: AsyncSession, external_id: str, *, for_update: bool = False
) -> Invoice | None:
    """The invoice with its lines (locked until the transaction ends with `for_update`)."""
    stmt = (
        select(Invoice)
        .where(Invoice.external_id == external_id)
        .options(selectinload(Invoice.lines))
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def external_id_taken(
    session: AsyncSession, external_id: str, *, except_id: int | None = None
) -> bool:
    stmt = select(Invoice.id).where(Invoice.external_id == external_id)
    if except_id is not None:
        stmt = stmt.where(Invoice.id != except_id)
    return (await session.execute(stmt.limit(1))).first() is not None


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
    stmt = _MANY_FOR_UPDATE if for_update else _MANY
    return list((await session.execute(stmt, {"ids": list(invoice_ids)})).scalars())


_MANY = select(Invoice).where(Invoice.id.in_(bindparam("ids", expanding=True))).order_by(Invoice.id)
_MANY_FOR_UPDATE = _MANY.with_for_update()  # built once: every payment runs it


async def lock(session: AsyncSession, invoice_id: int) -> Invoice | None:
    """The invoice with its lines, locked until the transaction ends (SELECT ... FOR UPDATE).

    Allocation locks the same rows, so a change made under this lock sees every allocation
    committed before it and none can slip in until it ends.
    """
    stmt = (
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .options(selectinload(Invoice.lines))
        .with_for_update()
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def number_taken(session: AsyncSession, number: str, *, except_id: int | None = None) -> bool:
    stmt = select(Invoice.id).where(Invoice.number == number)
    if except_id is not None:
        stmt = stmt.where(Invoice.id != except_id)
    return (await session.execute(stmt.limit(1))).first() is not None


_TRAILING_DIGITS = re.compile(r"^(.*?)(\d+)$")
FIRST_NUMBER = "10001"


async def next_number(session: AsyncSession) -> str:
    """A free number following the latest invoice's: `2026-0041` after `2026-0040`."""
    latest = (
        await session.execute(select(Invoice.number).order_by(Invoice.id.desc()).limit(1))
    ).scalar_one_or_none()
    match = _TRAILING_DIGITS.match(latest or "")
    prefix, digits = (match.group(1), match.group(2)) if match else ("", FIRST_NUMBER)
    value = int(digits) + (1 if match else 0)
    for _ in range(100):
        candidate = f"{prefix}{str(value).zfill(len(digits))}"
        if len(candidate) <= 32 and not await number_taken(session, candidate):
            return candidate
        value += 1
    return ""  # nothing sensible to suggest; the person types one
