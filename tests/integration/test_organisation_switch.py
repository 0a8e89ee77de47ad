"""A person who works in two organisations: the header names the organisation they work
in and offers to switch; each organisation's pages show only its own customers; a switch to
an organisation they do not belong to is not found and changes nothing (both databases)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.audit.models import AuditEntry
from payrequest.db.scope import ALL, scoped_to
from payrequest.organisations import service as organisations
from payrequest.organisations.service import NewOrganisation
from payrequest.users import service as users
from tests.conftest import TEST_ORGANISATION
from tests.factories import make_customer
from tests.staff import PASSWORD, app_client, csrf_of, sign_in

FIRST = TEST_ORGANISATION


async def _organisation(sessions: async_sessionmaker[AsyncSession], name: str, slug: str) -> int:
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        return (await organisations.create(session, NewOrganisation(name=name, slug=slug))).id


async def _rename_first(sessions: async_sessionmaker[AsyncSession], name: str) -> None:
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        (await organisations.get(session, FIRST)).name = name


async def _customer(
    sessions: async_sessionmaker[AsyncSession], organisation: int, name: str
) -> None:
    async with sessions(info=scoped_to(organisation)) as session, session.begin():
        await make_customer(session, name=name)


async def _person(
    sessions: async_sessionmaker[AsyncSession], *, role: str = "owner", also: dict[int, str]
) -> None:
    """`owner@example.no`, a member of the first organisation as `role` and of `also`."""
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        user = await users.create_user(
            session,
            email=f"{role}@example.no",
            password=PASSWORD,
            role=role,
            locale="en",
            organisation_id=FIRST,
        )
        for organisation, their_role in also.items():
            await organisations.add_member(
                session, user_id=user.id, organisation_id=organisation, role=their_role
            )


def _current(html: str) -> str:
    """The organisation id the header says the page is for."""
    match = re.search(r'class="[^"]*organisation[^"]*"[^>]*data-organisation="(\d*)"', html)
    assert match, "the header names no organisation"
    return match.group(1)


async def _switch(client: httpx.AsyncClient, organisation: int | str) -> httpx.Response:
    token = csrf_of((await client.get("/customers")).text)
    return await client.post(
        "/account/organisation", data={"csrf": token, "organisation": str(organisation)}
    )


async def test_a_member_of_two_organisations_switches_between_their_customers(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _rename_first(sessions, "Fjord Rør AS")
    second = await _organisation(sessions, "Bergen Bad AS", "bergen-bad")
    await _customer(sessions, FIRST, "Kari Nordmann")
    await _customer(sessions, second, "Ola Bergen")
    await _person(sessions, also={second: "staff"})
    async with app_client(database_url, tmp_path, run_worker=False) as http:
        await sign_in(http, "owner")
        page = (await http.get("/customers")).text
        assert _current(page) == str(FIRST)
        assert "data-organisation-switch" in page
        assert "Fjord Rør AS" in page and "Bergen Bad AS" in page  # the switcher's choices
        assert "Kari Nordmann" in page and "Ola Bergen" not in page

        switched = await _switch(http, second)
        assert switched.status_code == 303
        assert switched.headers["location"] == "/customers"
        page = (await http.get("/customers")).text
        assert _current(page) == str(second)
        assert "Ola Bergen" in page and "Kari Nordmann" not in page
        # the role is the one in this organisation: staff here, so no Staff page
        assert (await http.get("/staff")).status_code == 403

        back = await _switch(http, FIRST)
        assert back.status_code == 303
        page = (await http.get("/customers")).text
        assert _current(page) == str(FIRST) and "Kari Nordmann" in page
    async with sessions(info=scoped_to(ALL)) as session:
        switches = await session.scalars(
            select(AuditEntry.organisation_id)
            .where(AuditEntry.action == "organisation.switch")
            .order_by(AuditEntry.id)
        )
        assert list(switches) == [second, FIRST]


async def test_one_organisation_shows_its_name_and_no_switcher(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _rename_first(sessions, "Fjord Rør AS")
    await _person(sessions, also={})
    async with app_client(database_url, tmp_path, run_worker=False) as http:
        await sign_in(http, "owner")
        for path in ("/customers", "/settings", "/staff", "/invoices"):
            page = (await http.get(path)).text
            assert "Fjord Rør AS" in page, path
            assert _current(page) == str(FIRST), path
            assert "data-organisation-switch" not in page, path


async def test_a_forged_switch_to_a_foreign_organisation_is_not_found(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    second = await _organisation(sessions, "Bergen Bad AS", "bergen-bad")
    foreign = await _organisation(sessions, "Andre AS", "andre")
    await _customer(sessions, FIRST, "Kari Nordmann")
    await _customer(sessions, foreign, "Hemmelig Kunde")
    await _person(sessions, also={second: "owner"})
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        user = await users.get_by_email(session, "owner@example.no")
        assert user is not None
        # a membership that is no longer active counts as none
        (
            await organisations.add_member(
                session, user_id=user.id, organisation_id=foreign, role="owner"
            )
        ).is_active = False
    async with app_client(database_url, tmp_path, run_worker=False) as http:
        await sign_in(http, "owner")
        for target in (foreign, 999_999, 0, "x"):
            forged = await _switch(http, target)
            assert forged.status_code in (404, 422), (target, forged.status_code)
            page = (await http.get("/customers")).text
            assert _current(page) == str(FIRST)
            assert "Kari Nordmann" in page and "Hemmelig Kunde" not in page
        assert (await _switch(http, foreign)).status_code == 404
        assert f'value="{foreign}"' not in (await http.get("/customers")).text
        # without the CSRF token nothing switches either
        refused = await http.post("/account/organisation", data={"organisation": str(second)})
        assert refused.status_code == 403
        assert _current((await http.get("/customers")).text) == str(FIRST)
    async with sessions(info=scoped_to(ALL)) as session:
        switches = await session.scalars(
            select(AuditEntry.id).where(AuditEntry.action == "organisation.switch")
        )
        assert list(switches) == []
