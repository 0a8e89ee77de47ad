"""A suspended organisation's portal is closed: a link no longer signs its customer in, and a
portal session already open stops working; reactivated, it works again (both databases)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.db.scope import ALL, scoped_to
from payrequest.organisations.models import Organisation
from payrequest.portal import service as portal
from tests.factories import make_customer

FIRST = 1


async def _set_status(sessions: async_sessionmaker[AsyncSession], status: str) -> None:
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        await session.execute(
            update(Organisation).where(Organisation.id == FIRST).values(status=status)
        )


async def test_a_suspended_organisations_customers_cannot_use_the_portal(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        customer.portal_access = True
        customer.email = "kari@example.no"
        await session.flush()
        first_link = await portal.issue_link(session, customer_id=customer.id, channel="email")
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        signed = await portal.sign_in_with_link(session, token=first_link.token)
    assert signed is not None
    token = signed.started.token

    await _set_status(sessions, "suspended")
    async with sessions(info=scoped_to(ALL)) as session:
        assert await portal.signed_in_customer(session, token=token) is None
    async with sessions() as session, session.begin():
        second_link = await portal.issue_link(session, customer_id=customer.id, channel="email")
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        assert await portal.sign_in_with_link(session, token=second_link.token) is None

    await _set_status(sessions, "active")
    async with sessions(info=scoped_to(ALL)) as session:
        back = await portal.signed_in_customer(session, token=token)
    assert back is not None and back.id == customer.id
