"""Health, sign-in, session and CSRF over HTTP against the real app and database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.app import create_app
from payrequest.config import load_settings
from tests.factories import make_customer, make_invoice
from tests.staff import BASE, PASSWORD, app_client, create_staff, csrf_of, sign_in


@pytest.fixture
async def client(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    await create_staff(sessions, roles=("staff",), locale="nb")
    async with app_client(database_url, tmp_path) as http:
        yield http


async def test_healthz_reports_database_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] is True


async def test_healthz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    settings = load_settings(database_url="postgresql://nobody@127.0.0.1:1/none", var_dir=tmp_path)
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        response = await http.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


@pytest.mark.parametrize("path", ["/customers", "/customers/1"])
async def test_pages_refuse_anonymous_visitors(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


async def test_sign_in_shows_customers_and_card(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session, name="Fjordbakeriet AS")
        await make_invoice(session, customer, amount=123_450, number="INV-77")
    await sign_in(client)
    listing = await client.get("/customers")
    assert listing.status_code == 200 and "Fjordbakeriet AS" in listing.text
    assert "1\u00a0234,50\u00a0kr" in listing.text
    card = await client.get(f"/customers/{customer.id}")
    assert card.status_code == 200
    assert "INV-77" in card.text
    missing = await client.get("/customers/999999")
    assert missing.status_code == 404


async def test_wrong_password_is_refused(client: httpx.AsyncClient) -> None:
    token = csrf_of((await client.get("/login")).text)
    response = await client.post(
        "/login", data={"email": "staff@example.no", "password": "guess", "csrf": token}
    )
    assert response.status_code == 401
    assert "Wrong email or password" in response.text
    assert (await client.get("/customers")).status_code == 303


async def test_state_changes_need_a_csrf_token(client: httpx.AsyncClient) -> None:
    await client.get("/login")  # a session exists, but the token is not sent
    no_token = await client.post("/login", data={"email": "staff@example.no", "password": PASSWORD})
    assert no_token.status_code == 403
    await sign_in(client)
    forged = await client.post("/logout", data={"csrf": "not-the-token"})
    assert forged.status_code == 403
    assert (await client.get("/customers")).status_code == 200  # still signed in
    cross_site = await client.post(
        "/logout",
        data={"csrf": csrf_of((await client.get("/customers")).text)},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403


async def test_session_cookie_is_http_only_and_same_site(client: httpx.AsyncClient) -> None:
    response = await client.get("/login")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


async def test_create_and_edit_a_customer_and_bad_input_writes_nothing(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    from sqlalchemy import func, select

    from payrequest.customers.models import Customer

    await sign_in(client)
    token = csrf_of((await client.get("/customers/new")).text)
    bad = await client.post(
        "/customers", data={"csrf": token, "name": "Fjord AS", "phone": "12345"}
    )
    assert bad.status_code == 422
    assert "Fjord AS" in bad.text  # what was typed is kept
    async with sessions() as session:
        assert (await session.execute(select(func.count(Customer.id)))).scalar_one() == 0
    created = await client.post(
        "/customers",
        data={
            "csrf": token,
            "name": "Fjord AS",
            "phone": "912 34 567",
            "email": "Post@Fjord.no",
            "portal_access": "true",
        },
    )
    assert created.status_code == 303
    customer_id = int(created.headers["location"].rsplit("/", 1)[1])
    async with sessions() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        assert (customer.phone, customer.email, customer.portal_access) == (
            "+4791234567",
            "post@fjord.no",
            True,
        )
    edited = await client.post(
        f"/customers/{customer_id}",
        data={
            "csrf": token,
            "name": "Fjord Bakeri AS",
            "number": customer.number,
            "phone": "+45 20 12 34 56",
            "country": "DK",
            "locale": "da",
        },
    )
    assert edited.status_code == 303
    async with sessions() as session:
        changed = await session.get(Customer, customer_id)
        assert changed is not None
        assert (changed.name, changed.phone, changed.portal_access) == (
            "Fjord Bakeri AS",
            "+4520123456",
            False,
        )
