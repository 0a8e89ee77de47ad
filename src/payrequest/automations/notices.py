"""Notes for staff on a customer's card, left by a flow's "tell the staff" action
(automations.execution), until a staff member marks one done."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.automations.models import StaffNotice
from payrequest.errors import NotFound
from payrequest.kit.clock import utcnow

SHOWN = 20


async def leave(
    session: AsyncSession, *, customer_id: int, flow_run_id: int | None, title: str, text: str
) -> StaffNotice:
    notice = StaffNotice(
        customer_id=customer_id, flow_run_id=flow_run_id, title=title[:300], text=text
    )
    session.add(notice)
    await session.flush()
    return notice


async def open_for_customer(session: AsyncSession, customer_id: int) -> Sequence[StaffNotice]:
    """The customer's notices nobody has marked done, newest first."""
    return (
        await session.scalars(
            select(StaffNotice)
            .where(StaffNotice.customer_id == customer_id, StaffNotice.done_at.is_(None))
            .order_by(StaffNotice.id.desc())
            .limit(SHOWN)
        )
    ).all()


async def mark_done(
    session: AsyncSession, *, customer_id: int, notice_id: int, actor_id: int
) -> StaffNotice:
    """Done (once; marking it again changes nothing)."""
    notice = await session.get(StaffNotice, notice_id)
    if notice is None or notice.customer_id != customer_id:
        raise NotFound("No such notice")
    if notice.done_at is None:
        notice.done_at, notice.done_by = utcnow(), actor_id
    return notice
