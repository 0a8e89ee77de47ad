"""The organisation scope (db.scope) on both databases: what a session acting for one
organisation can read and write, and that a session acting for none cannot touch business
rows at all."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from payrequest.customers.models import Customer
from payrequest.db.scope import (
    ALL,
    CrossOrganisationWrite,
    UnscopedQuery,
    acting_for,
    nobody,
    scoped_to,
)
from payrequest.db.session import session_factory
from payrequest.invoices.models import Invoice
from payrequest.organisations import service as organisations
from payrequest.organisations.service import NewOrganisation
from tests.factories import make_customer, make_invoice

FIRST = 1


async def _second(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        created = await organisations.create(
            session, NewOrganisation(name="Dansk Rør ApS", slug="dansk-ror", market="DK")
        )
        return created.id


async def _two_businesses(
    sessions: async_sessionmaker[AsyncSession],
) -> tuple[int, int]:
    """Organisation 1 and a second one, each with one customer and one invoice numbered
    the same (numbers are per organisation)."""
    second = await _second(sessions)
    for organisation, name in ((FIRST, "Kari Nordmann"), (second, "Mette Hansen")):
        async with sessions(info=scoped_to(organisation)) as session, session.begin():
            customer = await make_customer(session, name=name)
            await make_invoice(session, customer, number="1001")
    return FIRST, second


async def _names(session: AsyncSession) -> list[str]:
    return sorted(await session.scalars(select(Customer.name)))


async def test_a_session_reads_only_its_organisations_rows(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first, second = await _two_businesses(sessions)
    async with sessions(info=scoped_to(second)) as other:
        theirs = (await other.scalars(select(Customer))).one()
    async with sessions(info=scoped_to(first)) as session:
        assert await _names(session) == ["Kari Nordmann"]
        # joins and counts are scoped as well
        joined = await session.scalars(
            select(Invoice.number).join(Customer, Customer.id == Invoice.customer_id)
        )
        assert list(joined) == ["1001"]
        assert await session.scalar(select(func.count()).select_from(Invoice)) == 1
        # a primary-key get of the other organisation's row finds nothing
        assert await session.get(Customer, theirs.id) is None
    async with sessions(info=scoped_to(second)) as session:
        assert await _names(session) == ["Mette Hansen"]
    async with sessions(info=scoped_to(ALL)) as session:
        assert await _names(session) == ["Kari Nordmann", "Mette Hansen"]


async def test_updates_and_deletes_touch_only_the_scope(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first, second = await _two_businesses(sessions)
    async with sessions(info=scoped_to(first)) as session, session.begin():
        await session.execute(update(Customer).values(email="changed@example.no"))
        await session.execute(delete(Invoice))
    async with sessions(info=scoped_to(ALL)) as session:
        rows = await session.execute(
            select(Customer.organisation_id, Customer.email).order_by(Customer.organisation_id)
        )
        assert [tuple(r) for r in rows] == [(first, "changed@example.no"), (second, None)]
        left = await session.scalars(select(Invoice.organisation_id))
        assert list(left) == [second]


async def test_new_rows_are_stamped_and_another_organisations_row_is_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first, second = await _two_businesses(sessions)
    async with sessions(info=scoped_to(second)) as session, session.begin():
        created = await make_customer(session, name="Ny Kunde")
        assert created.organisation_id == second
    with pytest.raises(CrossOrganisationWrite):
        async with sessions(info=scoped_to(first)) as session, session.begin():
            session.add(Customer(name="Smuggled", number="S-1", organisation_id=second))
            await session.flush()
    with pytest.raises(CrossOrganisationWrite):
        async with sessions(info=scoped_to(first)) as session, session.begin():
            await session.execute(
                insert(Customer).values(name="Smuggled", number="S-2", organisation_id=second)
            )
    async with sessions(info=scoped_to(first)) as session, session.begin():
        await session.execute(insert(Customer).values(name="Core insert", number="C-1"))
    async with sessions(info=scoped_to(ALL)) as session:
        rows = await session.execute(select(Customer.name, Customer.organisation_id))
        by_name = {name: organisation for name, organisation in rows}
    assert by_name["Core insert"] == first
    assert by_name["Ny Kunde"] == second
    assert "Smuggled" not in by_name


async def test_a_session_acting_for_nobody_cannot_touch_business_rows(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    await _two_businesses(sessions)
    unscoped = session_factory(engine)
    with nobody():
        async with unscoped() as session:
            with pytest.raises(UnscopedQuery):
                await session.scalars(select(Customer))
        async with unscoped() as session:
            with pytest.raises(UnscopedQuery):
                await session.execute(update(Invoice).values(total=0))
        with pytest.raises(UnscopedQuery):
            async with unscoped() as session, session.begin():
                session.add(Customer(name="Nobody's", number="N-1"))
                await session.flush()
        # ALL must be said, and new business rows under ALL name their organisation
        with pytest.raises(UnscopedQuery):
            async with unscoped(info=scoped_to(ALL)) as session, session.begin():
                session.add(Customer(name="Whose?", number="N-2"))
                await session.flush()


async def test_the_scope_of_the_context_is_taken_when_none_is_given(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    _, second = await _two_businesses(sessions)
    unscoped = session_factory(engine)
    with acting_for(second):
        async with unscoped() as session:
            assert await _names(session) == ["Mette Hansen"]
    async with unscoped() as session:  # the test acts for the first organisation
        assert await _names(session) == ["Kari Nordmann"]
    # a session keeps the scope it started with
    async with unscoped() as session:
        assert await _names(session) == ["Kari Nordmann"]
        with acting_for(second):
            assert await _names(session) == ["Kari Nordmann"]


async def test_postgresql_row_level_security_settings_follow_the_session(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row-level security is PostgreSQL's")
    first, _ = await _two_businesses(sessions)
    async with sessions(info=scoped_to(first)) as session:
        row = (
            await session.execute(
                text(
                    "SELECT current_setting('payrequest.organisation_id', true),"
                    " current_setting('payrequest.all_organisations', true)"
                )
            )
        ).one()
        assert tuple(row) == (str(first), "off")
    async with sessions(info=scoped_to(ALL)) as session:
        row = (
            await session.execute(text("SELECT current_setting('payrequest.all_organisations')"))
        ).one()
        assert row[0] == "on"
