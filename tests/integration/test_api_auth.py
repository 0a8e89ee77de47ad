"""Who may call the API, over HTTP in-process, on SQLite and PostgreSQL: only a live API key
as `Authorization: Bearer`; a read key only GETs; a staff member's session cookie never opens
the API and a key never opens the admin; each key counts against its own rate limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.api_keys import service as api_keys
from payrequest.api_keys.models import ApiKey
from payrequest.db.scope import ALL, scoped_to
from payrequest.organisations import suspension
from tests.integration.api_helpers import API, api_app, client_of, make_key
from tests.staff import create_staff, sign_in

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def app(database_url: str, sessions: Sessions, tmp_path: Path) -> AsyncIterator[FastAPI]:
    async with api_app(database_url, tmp_path, api={"requests_per_minute": 5}) as application:
        yield application


def _problem(response: object, status: int, code: str) -> None:
    assert getattr(response, "status_code", None) == status, getattr(response, "text", "")
    headers = getattr(response, "headers", {})
    assert headers["content-type"] == "application/problem+json"
    body = response.json()  # type: ignore[attr-defined]
    assert (body["status"], body["code"]) == (status, code)
    assert body["type"].endswith(code) and body["title"] and body["detail"]


async def test_no_key_a_wrong_key_and_a_revoked_key_are_refused(
    app: FastAPI, sessions: Sessions
) -> None:
    key = await make_key(sessions)
    async with client_of(app) as anonymous:
        missing = await anonymous.get("/customers")
        _problem(missing, 401, "api_key_missing")
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = await anonymous.get("/customers", headers={"Authorization": f"Bearer {key}x"})
        _problem(wrong, 401, "api_key_invalid")
        basic = await anonymous.get("/customers", headers={"Authorization": f"Basic {key}"})
        _problem(basic, 401, "api_key_missing")
    async with client_of(app, key) as client:
        assert (await client.get("/customers")).status_code == 200
        async with sessions() as session, session.begin():
            row = await session.get(ApiKey, 1)
            assert row is not None and row.last_used_at is not None
            await api_keys.revoke_key(session, key_id=row.id, actor_id=None)
        _problem(await client.get("/customers"), 401, "api_key_invalid")


async def test_a_read_key_only_reads(app: FastAPI, sessions: Sessions) -> None:
    key = await make_key(sessions, scope="read")
    async with client_of(app, key) as client:
        assert (await client.get("/customers")).status_code == 200
        refused = await client.post("/customers", json={"name": "Fjord AS"})
        _problem(refused, 403, "api_key_read_only")
        assert (await client.get("/customers")).json()["data"] == []


async def test_sessions_never_open_the_api_and_keys_never_open_the_admin(
    app: FastAPI, sessions: Sessions
) -> None:
    await create_staff(sessions, roles=("owner",))
    key = await make_key(sessions)
    async with client_of(app) as browser:
        browser.base_url = browser.base_url.copy_with(path="/")
        await sign_in(browser, "owner")
        assert (await browser.get("/customers")).status_code == 200  # signed in for the pages
        _problem(await browser.get(f"{API}/customers"), 401, "api_key_missing")
    async with client_of(app, key) as client:
        client.base_url = client.base_url.copy_with(path="/")
        page = await client.get("/customers")
        assert page.status_code == 303 and page.headers["location"].startswith("/login")


async def test_a_suspended_organisations_keys_stop_working(
    app: FastAPI, sessions: Sessions
) -> None:
    key = await make_key(sessions)
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        await suspension.suspend(session, organisation_id=1, by_user_id=None, address=None)
    async with client_of(app, key) as client:
        _problem(await client.get("/customers"), 403, "organisation_suspended")


async def test_each_key_has_its_own_rate_limit(app: FastAPI, sessions: Sessions) -> None:
    first, second = await make_key(sessions), await make_key(sessions)
    async with client_of(app, first) as client:
        seen = [await client.get("/customers") for _ in range(5)]
        assert [r.headers["ratelimit-remaining"] for r in seen] == ["4", "3", "2", "1", "0"]
        assert {r.headers["ratelimit-limit"] for r in seen} == {"5"}
        assert 0 < int(seen[-1].headers["ratelimit-reset"]) <= 60
        limited = await client.get("/customers")
        _problem(limited, 429, "rate_limited")
        assert 0 < int(limited.headers["retry-after"]) <= 60
    async with client_of(app, second) as other:
        assert (await other.get("/customers")).status_code == 200


async def test_what_the_api_wrote_shows_on_the_staff_pages(
    app: FastAPI, sessions: Sessions
) -> None:
    await create_staff(sessions, roles=("staff",))
    key = await make_key(sessions)
    async with client_of(app, key) as client:
        customer = await client.put(
            "/customers/by-external-id/ERP-7",
            json={"name": "Fjord AS", "organisation_number": "912345678"},
        )
        invoice = await client.put(
            "/invoices/by-external-id/INV-7",
            json={
                "customer_external_id": "ERP-7",
                "reference": "20260113003",
                "due_date": "2026-12-31",
                "lines": [{"description": "Work", "unit_price": 1000}],
            },
        )
    async with client_of(app) as browser:
        browser.base_url = browser.base_url.copy_with(path="/")
        await sign_in(browser, "staff")
        number = customer.json()["id"].removeprefix("cus_")
        card = (await browser.get(f"/customers/{number}/live/contact")).text
        assert "912345678" in card and "ERP-7" in card
        page = (await browser.get(f"/invoices/{invoice.json()['id'].removeprefix('inv_')}")).text
        assert "20260113003" in page and "INV-7" in page
