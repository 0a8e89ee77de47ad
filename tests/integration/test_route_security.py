"""Every page refuses an anonymous visitor; every state change refuses a missing or wrong
CSRF token, whoever is signed in. The routes are read from the app, so new ones are covered."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.app import create_app
from payrequest.config import load_settings
from payrequest.tables import metadata
from tests.staff import app_client, create_staff, csrf_of, sign_in

# Reachable without signing in, on purpose.
PUBLIC = {
    "/healthz",
    "/readyz",  # a load balancer's probe: says only whether the database is ready
    "/metrics",  # loopback or PAYREQUEST_METRICS_TOKEN (test_observability_web.py)
    "/login",
    "/password/forgot",  # "forgot your password?" (test_staff_passwords.py)
    "/password/set",  # a reset or invitation link: its signed token is the key
    "/webhooks/{provider}",  # the provider's signature is the key
    "/webhooks/{provider}/{token}",  # one organisation's connection: its signature is the key
    "/webhooks/sms/gatewayapi",  # customers' SMS replies: GatewayAPI's signed JWT is the key
    "/signup",  # a business signs itself up (the form's POST needs the CSRF token all the same)
    "/signup/sent",
    "/signup/verify",  # the emailed link: its signed token is the key (test_signup.py)
    "/docs",
    "/redoc",
    "/openapi.json",
    "/docs/oauth2-redirect",
    "/receipts/{token}",  # a receipt link: its signed token is the key (test_receipt_links.py)
}
PUBLIC_PREFIXES = ("/portal", "/static", "/sandbox")
# The installation operator's pages: there for nobody else, signed in or not (404, not a
# sign-in or a refusal that would tell they exist; test_operator.py).
OPERATOR_ONLY = ("/operator",)


def _walk(routes: list[Any]) -> Iterator[APIRoute]:
    """Every endpoint, also inside included routers (FastAPI wraps them; none has a prefix)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _walk(route.original_router.routes)


def _routes(method: str) -> list[str]:
    app = create_app(load_settings())
    paths = []
    for route in _walk(app.routes):
        if method not in (route.methods or set()):
            continue
        if route.path in PUBLIC or route.path.startswith(PUBLIC_PREFIXES):
            continue
        paths.append(re.sub(r"\{[^}]+\}", "1", route.path))
    return sorted(set(paths))


@pytest.fixture
async def client(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    await create_staff(sessions, roles=("owner",), locale="nb")
    async with app_client(database_url, tmp_path) as http:
        yield http


async def _row_counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        return {
            t.name: int((await session.execute(select(func.count()).select_from(t))).scalar_one())
            for t in metadata.sorted_tables
        }


def _operators(path: str) -> bool:
    return path.startswith(OPERATOR_ONLY)


@pytest.mark.parametrize("path", _routes("GET"))
async def test_every_page_refuses_anonymous_visitors(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    if _operators(path):
        assert response.status_code == 404, f"GET {path} -> {response.status_code}"
        return
    assert response.status_code in (303, 401), f"GET {path} -> {response.status_code}"
    if response.status_code == 303:
        assert response.headers["location"].startswith("/login")


@pytest.mark.parametrize("path", _routes("POST"))
async def test_every_state_change_needs_a_csrf_token(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], path: str
) -> None:
    await sign_in(client, "owner")
    token = csrf_of((await client.get("/customers")).text)
    before = await _row_counts(sessions)
    refused = 404 if _operators(path) else 403  # the owner is no operator
    for data in ({}, {"csrf": "forged"}):
        response = await client.post(path, data=data)
        assert response.status_code == refused, f"POST {path} with {data} -> {response.status_code}"
    cross_site = await client.post(
        path, data={"csrf": token}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross_site.status_code == refused
    assert await _row_counts(sessions) == before
