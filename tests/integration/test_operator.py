"""The installation's operator: the overview of every organisation (on both databases),
404 for anyone else, and suspending an organisation, which locks its staff out until it is
reactivated (audited in the organisation's own log)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.audit.models import AuditEntry
from payrequest.db.scope import ALL, acting_for, scoped_to
from payrequest.kit.clock import utcnow
from payrequest.organisations import service as organisations
from payrequest.organisations.models import Organisation
from payrequest.payment_requests.models import PaymentRequest
from payrequest.tenancy import overview
from payrequest.users import service as users
from payrequest.users.models import User
from tests.factories import make_customer
from tests.integration.test_signup import with_routes
from tests.staff import PASSWORD, built_app, client_from, create_staff, csrf_of, sign_in

SECOND = "Fjord Rør AS"


@pytest.fixture
async def second(sessions: async_sessionmaker[AsyncSession]) -> int:
    """A second organisation with an owner (`fjord@example.no`), two customers and a paid
    request; the first has the usual staff and an operator (`operator@example.no`)."""
    await create_staff(sessions, roles=("owner", "staff"))
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        organisation = await organisations.create(
            session, organisations.NewOrganisation(name=SECOND, slug="fjord-ror", market="DK")
        )
        await users.create_user(
            session,
            email="fjord@example.no",
            password=PASSWORD,
            role="owner",
            locale="en",
            organisation_id=organisation.id,
        )
        operator = await users.create_user(
            session,
            email="operator@example.no",
            password=PASSWORD,
            role="staff",
            locale="en",
            organisation_id=1,
        )
        operator.is_operator = True
        # the migration made the first organisation's owners operators: not these
        await session.execute(
            update(User).where(User.email != "operator@example.no").values(is_operator=False)
        )
        organisation_id = organisation.id
    with acting_for(organisation_id):
        async with sessions() as session, session.begin():
            customer = await make_customer(session, name="Kunde A", country="DK")
            await make_customer(session, name="Kunde B", country="DK")
            session.add_all(
                [
                    PaymentRequest(
                        reference=f"op-{number}",
                        customer_id=customer.id,
                        currency="DKK",
                        amount=amount,
                        description="Paid",
                        origin="staff",
                        status="paid",
                        captured_amount=amount,
                        expires_at=utcnow() + timedelta(hours=1),
                    )
                    for number, amount in ((1, 12_500), (2, 7_500))
                ]
            )
    return organisation_id


@pytest.fixture
async def app(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path, second: int
) -> AsyncIterator[FastAPI]:
    async with built_app(database_url, tmp_path, run_worker=False) as built:
        yield with_routes(built)


async def sign_in_as(client: httpx.AsyncClient, email: str) -> None:
    token = csrf_of((await client.get("/login")).text)
    answer = await client.post("/login", data={"email": email, "password": PASSWORD, "csrf": token})
    assert answer.status_code == 303, answer.text


async def test_the_overview_counts_each_organisation_on_its_own(
    sessions: async_sessionmaker[AsyncSession], second: int
) -> None:
    async with sessions(info=scoped_to(ALL)) as session:
        rows = {row.slug: row for row in await overview.overview(session)}
    assert set(rows) == {"main", "fjord-ror"}
    fjord, main = rows["fjord-ror"], rows["main"]
    assert (fjord.members, fjord.customers, fjord.requests) == (1, 2, 2)
    assert fjord.paid == {"DKK": 20_000} and fjord.currency == "DKK" and fjord.status == "active"
    assert (main.members, main.customers, main.requests, main.paid) == (3, 0, 0, {})
    async with sessions(info=scoped_to(ALL)) as session:
        later = await overview.overview(session, now=utcnow() + timedelta(days=31))
    assert {row.slug: row.requests for row in later} == {"main": 0, "fjord-ror": 0}
    with acting_for(second):
        async with sessions() as session:
            with pytest.raises(Exception, match="every organisation"):
                await overview.overview(session)


async def test_only_the_operator_sees_the_overview(app: FastAPI) -> None:
    async with client_from(app) as anonymous:
        assert (await anonymous.get("/operator")).status_code == 404
    for email in ("owner@example.no", "fjord@example.no"):
        async with client_from(app) as client:
            await sign_in_as(client, email)
            assert (await client.get("/operator")).status_code == 404
            token = csrf_of((await client.get("/customers")).text)
            refused = await client.post("/operator/organisations/1/suspend", data={"csrf": token})
            assert refused.status_code == 404
    async with client_from(app) as operator:
        await sign_in_as(operator, "operator@example.no")
        page = await operator.get("/operator")
        assert page.status_code == 200
        assert 'data-organisation-row="main"' in page.text
        assert 'data-organisation-row="fjord-ror"' in page.text
        assert SECOND in page.text and "My business" in page.text


async def test_suspending_locks_the_staff_out_and_reactivating_lets_them_back(
    app: FastAPI, sessions: async_sessionmaker[AsyncSession], second: int
) -> None:
    async with client_from(app) as fjord, client_from(app) as operator, client_from(app) as main:
        await sign_in_as(fjord, "fjord@example.no")
        await sign_in(main, "staff")
        await sign_in_as(operator, "operator@example.no")
        assert (await fjord.get("/customers")).status_code == 200

        token = csrf_of((await operator.get("/operator")).text)
        no_csrf = await operator.post(f"/operator/organisations/{second}/suspend", data={})
        assert no_csrf.status_code == 403
        assert (await fjord.get("/customers")).status_code == 200

        done = await operator.post(
            f"/operator/organisations/{second}/suspend", data={"csrf": token}
        )
        assert done.status_code == 303 and done.headers["location"] == "/operator"
        page = await operator.get("/operator")
        assert f"{SECOND} is suspended." in page.text
        assert 'data-organisation-row="fjord-ror" data-status="suspended"' in page.text

        locked = await fjord.get("/customers")
        assert locked.status_code == 403 and "er suspendert" in locked.text  # in Norwegian
        assert SECOND in locked.text
        assert (await fjord.get("/invoices")).status_code == 403
        assert (await main.get("/customers")).status_code == 200  # the other one works on

        twice = await operator.post(
            f"/operator/organisations/{second}/suspend", data={"csrf": token}
        )
        assert twice.status_code == 303  # said on the page, nothing changes
        assert "already suspended" in (await operator.get("/operator")).text

        back = await operator.post(
            f"/operator/organisations/{second}/reactivate", data={"csrf": token}
        )
        assert back.status_code == 303
        assert f"{SECOND} is active again." in (await operator.get("/operator")).text
        assert (await fjord.get("/customers")).status_code == 200  # the same session

        unknown = await operator.post(
            "/operator/organisations/999999/suspend", data={"csrf": token}
        )
        assert unknown.status_code == 303

    async with sessions(info=scoped_to(ALL)) as session:
        entries = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.like("organisation.%"))
                .where(AuditEntry.subject_type == "organisation")
                .order_by(AuditEntry.id)
            )
        )
        organisation = await session.get(Organisation, second)
        operator_user = await users.get_by_email(session, "operator@example.no")
    assert [e.action for e in entries] == ["organisation.suspend", "organisation.reactivate"]
    assert {e.organisation_id for e in entries} == {second}
    assert operator_user is not None and {e.user_id for e in entries} == {operator_user.id}
    assert organisation is not None and organisation.status == "active"


async def test_a_suspended_organisations_staff_cannot_sign_in_to_work(
    app: FastAPI, sessions: async_sessionmaker[AsyncSession], second: int
) -> None:
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        await session.execute(
            update(Organisation).where(Organisation.id == second).values(status="suspended")
        )
    async with client_from(app) as fjord:
        await sign_in_as(fjord, "fjord@example.no")
        locked = await fjord.get("/customers")
        assert locked.status_code == 403 and SECOND in locked.text
