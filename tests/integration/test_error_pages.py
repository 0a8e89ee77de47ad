"""Errors reach people as pages in their language, with a way back; JSON only where JSON was
asked for. Over HTTP against the real app and database."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import HTTPException
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.app import create_app
from payrequest.config import load_settings
from payrequest.portal import service as portal
from payrequest.web.body_limits import DEFAULT_LIMIT
from tests.factories import make_customer
from tests.integration.portal_helpers import open_link
from tests.staff import BASE, create_staff, csrf_of, sign_in

NOT_FOUND = {"nb": "Fant ikke siden", "da": "Siden blev ikke fundet"}


def _probe_routes(app: object) -> None:
    """Handlers that fail the ways no real page should, to see the error pages."""

    async def boom() -> None:
        raise RuntimeError("database on fire")

    async def gone() -> None:
        raise HTTPException(410)

    async def slow_down() -> None:
        raise HTTPException(429)

    for path, handler in {
        "/probe/boom": boom,
        "/portal/probe/boom": boom,
        "/probe/gone": gone,
        "/probe/slow": slow_down,
    }.items():
        app.add_api_route(path, handler)  # type: ignore[attr-defined]


@pytest.fixture
async def client(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    await create_staff(sessions, roles=("staff",), locale="nb")
    settings = load_settings(database_url=database_url, var_dir=tmp_path, public_url=BASE)
    app = create_app(settings, run_worker=False)
    _probe_routes(app)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            yield http
    finally:
        await app.state.runtime.close()


def _page(response: httpx.Response, status: int, language: str) -> str:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("text/html"), response.text[:300]
    assert f'<html lang="{language}">' in response.text
    assert f'data-error-status="{status}"' in response.text
    assert "detail" not in response.text  # no JSON, no traceback
    return response.text


async def test_staff_pages_answer_errors_in_the_staff_members_language(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client)  # staff@example.no reads Norwegian
    missing = _page(await client.get("/customers/99999"), 404, "nb")
    assert NOT_FOUND["nb"] in missing and "Fant ikke kunden" in missing
    assert 'href="/customers"' in missing  # the way back
    assert NOT_FOUND["nb"] in _page(await client.get("/no/such/page"), 404, "nb")
    flow = _page(await client.get("/flows/424242"), 404, "nb")
    assert NOT_FOUND["nb"] in flow
    wrong_method = await client.get("/requests/1/cancel")
    assert "POST" in wrong_method.headers["allow"]
    assert "Ikke mulig her" in _page(wrong_method, 405, "nb")
    assert "Noe så ikke riktig ut" in _page(await client.get("/invoices?page=abc"), 422, "nb")
    _page(await client.get("/invoices/abc"), 422, "nb")
    assert "Ikke lenger tilgjengelig" in _page(await client.get("/probe/gone"), 410, "nb")
    assert "For mange forsøk" in _page(await client.get("/probe/slow"), 429, "nb")
    broken = _page(await client.get("/probe/boom"), 500, "nb")
    assert "Noe gikk galt hos oss" in broken and "database on fire" not in broken


async def test_a_body_over_the_limit_is_a_413_page(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    token = csrf_of((await client.get("/customers/new")).text)
    huge = "x" * (10 * 1024 * 1024)
    declared = await client.post("/customers", data={"csrf": token, "name": huge})
    assert "For mye på en gang" in _page(declared, 413, "nb")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        yield f"csrf={token}&name=".encode()
        for _ in range(DEFAULT_LIMIT // 65536 + 2):
            yield b"x" * 65536

    streamed = await client.post(
        "/customers",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    _page(streamed, 413, "nb")


async def test_json_where_json_was_asked_for(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    asked = await client.get("/customers/99999", headers={"accept": "application/json"})
    assert asked.status_code == 404 and asked.json() == {"detail": "Fant ikke kunden"}
    invalid = await client.get("/invoices?page=abc", headers={"accept": "application/json"})
    assert invalid.status_code == 422 and invalid.json()["detail"][0]["loc"] == ["query", "page"]
    api = await client.get("/api/no-such-thing")
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
    webhook = await client.get("/webhooks/vipps")
    assert webhook.status_code == 405 and webhook.json() == {"detail": "Method Not Allowed"}
    broken = await client.get("/probe/boom", headers={"accept": "application/json"})
    assert broken.status_code == 500 and broken.json() == {"detail": "Internal Server Error"}
    emulator = await client.get("/sandbox/vipps/no-such-thing")
    assert emulator.status_code == 404 and "<html" not in emulator.text  # its own answer
    json.loads(emulator.text)


async def test_visitors_who_are_not_signed_in_get_the_default_language(
    client: httpx.AsyncClient,
) -> None:
    page = _page(await client.get("/no/such/page"), 404, "nb")
    assert 'href="/login"' in page


async def test_portal_pages_answer_in_the_customers_language(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session, name="Mette Kjær Hansen", phone="+45 20 45 71 36")
        customer.portal_access, customer.locale, customer.country = True, "da", "DK"
        issued = await portal.issue_link(session, customer_id=customer.id, channel="sms")
    assert (await open_link(client, issued.token)).status_code == 303
    missing = _page(await client.get("/portal/payments/no-such-reference"), 404, "da")
    assert NOT_FOUND["da"] in missing
    assert re.search(r'href="/portal"[^>]*>[^<]*fakturaer', missing)  # back to the invoices
    _page(await client.get("/portal/no-such-page"), 404, "da")
    broken = _page(await client.get("/portal/probe/boom"), 500, "da")
    assert "Noget gik galt hos os" in broken
