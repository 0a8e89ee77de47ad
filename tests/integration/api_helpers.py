"""The API in-process for tests: the real app on the test database and a client that sends an
API key of the test organisation (or of another)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.api_keys import service as api_keys
from payrequest.app import create_app
from payrequest.config import load_settings
from payrequest.db.scope import scoped_to
from tests.conftest import TEST_ORGANISATION
from tests.staff import BASE

Sessions = async_sessionmaker[AsyncSession]
API = "/api/v1"


async def make_key(
    sessions: Sessions, *, scope: str = "write", organisation_id: int = TEST_ORGANISATION
) -> str:
    async with sessions(info=scoped_to(organisation_id)) as session, session.begin():
        made = await api_keys.create_key(session, name=f"test {scope}", scope=scope, actor_id=None)
    return made.secret


@asynccontextmanager
async def api_app(database_url: str, tmp_path: Path, **settings: Any) -> AsyncIterator[FastAPI]:
    app = create_app(
        load_settings(database_url=database_url, var_dir=tmp_path, public_url=BASE, **settings),
        run_worker=False,
    )
    try:
        yield app
    finally:
        await app.state.runtime.close()


def client_of(app: FastAPI, key: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE + API, headers=headers)
