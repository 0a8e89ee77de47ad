"""Shared pieces of the HTTP tests of the staff pages: accounts per role, an in-process app
client, the CSRF token of a page, signing in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.app import create_app
from payrequest.config import load_settings
from payrequest.users import service as users

BASE = "http://testserver"
PASSWORD = "correct horse"
ROLES = ("owner", "staff", "readonly")


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "form has no CSRF token"
    return match.group(1)


def once_of(html: str) -> str:
    """The token of the form that may be sent once (web.once) on the page."""
    match = re.search(r'name="once" value="([^"]+)"', html)
    assert match, "form has no once token"
    return match.group(1)


async def create_staff(
    sessions: async_sessionmaker[AsyncSession], roles: Iterable[str] = ROLES, locale: str = "en"
) -> None:
    """One account per role: `<role>@example.no` with PASSWORD."""
    async with sessions() as session, session.begin():
        for role in roles:
            await users.create_user(
                session, email=f"{role}@example.no", password=PASSWORD, role=role, locale=locale
            )


@asynccontextmanager
async def built_app(
    database_url: str,
    tmp_path: Path,
    *,
    base: str = BASE,
    run_worker: bool = True,
    **settings: Any,
) -> AsyncIterator[FastAPI]:
    """The real app on the test database; its runtime is closed afterwards."""
    app = create_app(
        load_settings(database_url=database_url, var_dir=tmp_path, public_url=base, **settings),
        run_worker=run_worker,
    )
    try:
        yield app
    finally:
        await app.state.runtime.close()


@asynccontextmanager
async def app_client(
    database_url: str,
    tmp_path: Path,
    *,
    base: str = BASE,
    run_worker: bool = True,
    **settings: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app on the test database, called in-process (no lifespan, so no worker runs)."""
    async with (
        built_app(database_url, tmp_path, base=base, run_worker=run_worker, **settings) as app,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as http,
    ):
        yield http


def client_from(app: object, address: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client of `app` calling from `address` (limits count per address)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url=BASE)


async def sign_in(client: httpx.AsyncClient, role: str = "staff") -> None:
    token = csrf_of((await client.get("/login")).text)
    response = await client.post(
        "/login", data={"email": f"{role}@example.no", "password": PASSWORD, "csrf": token}
    )
    assert response.status_code == 303, response.text
