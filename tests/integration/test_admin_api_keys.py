"""Settings → API keys over HTTP against the real app, on SQLite and PostgreSQL: owners list,
make (the key shown on that one answer, never on the list) and revoke keys; other roles are
refused; bad input is refused in the reader's language and changes nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.api_keys import service as api_keys
from payrequest.api_keys.models import ApiKey
from payrequest.app import create_app
from payrequest.config import load_settings
from payrequest.db.scope import ALL, scoped_to
from tests.staff import BASE, client_from, create_staff, csrf_of, once_of, sign_in

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def app(database_url: str, sessions: Sessions, tmp_path: Path) -> AsyncIterator[FastAPI]:
    application = create_app(
        load_settings(database_url=database_url, var_dir=tmp_path, public_url=BASE),
        run_worker=False,
    )
    await create_staff(sessions, locale="nb")  # the pages speak Norwegian
    yield application
    await application.state.runtime.close()


@asynccontextmanager
async def _client(app: FastAPI, role: str) -> AsyncIterator[httpx.AsyncClient]:
    async with client_from(app) as client:
        await sign_in(client, role)
        yield client


async def test_an_owner_makes_sees_and_revokes_a_key(app: FastAPI, sessions: Sessions) -> None:
    async with _client(app, "owner") as owner:
        empty = await owner.get("/settings/api-keys")
        assert empty.status_code == 200 and "data-no-api-keys" in empty.text
        settings = await owner.get("/settings")
        assert 'href="/settings/api-keys"' in settings.text
        form = {
            "csrf": csrf_of(empty.text),
            "name": "Regnskap",
            "scope": "write",
            "once": once_of(empty.text),
        }
        made = await owner.post("/settings/api-keys", data=form)
        assert made.status_code == 200
        found = re.search(r'id="new-key" readonly value="(prk_[A-Za-z0-9_-]{43})"', made.text)
        assert found, made.text
        key = found.group(1)
        async with sessions(info=scoped_to(ALL)) as session, session.begin():
            assert await api_keys.authenticate(session, key) is not None
        # The browser's reload sends the form again: no second key, the list instead.
        again = await owner.post("/settings/api-keys", data=form)
        assert again.status_code == 303 and again.headers["location"] == "/settings/api-keys"
        listed = await owner.get("/settings/api-keys")
        assert key[:12] in listed.text and key not in listed.text
        assert "Det skjemaet er sendt allerede" in listed.text
        async with sessions() as session:
            key_id = (await session.execute(select(ApiKey.id))).scalar_one()
        revoked = await owner.post(
            f"/settings/api-keys/{key_id}/revoke", data={"csrf": csrf_of(listed.text)}
        )
        assert revoked.status_code == 303
        after = await owner.get("/settings/api-keys")
        assert 'data-revoked="yes"' in after.text
        async with sessions(info=scoped_to(ALL)) as session, session.begin():
            assert await api_keys.authenticate(session, key) is None


async def test_a_nameless_key_is_refused_in_the_readers_language(
    app: FastAPI, sessions: Sessions
) -> None:
    async with _client(app, "owner") as owner:
        page = await owner.get("/settings/api-keys")
        refused = await owner.post(
            "/settings/api-keys",
            data={"csrf": csrf_of(page.text), "name": "  ", "scope": "read", "once": "t1"},
        )
        assert refused.status_code == 422
        assert "Gi nøkkelen et navn" in refused.text
    async with sessions() as session:
        assert (await session.execute(select(func.count(ApiKey.id)))).scalar_one() == 0


@pytest.mark.parametrize("role", ["staff", "readonly"])
async def test_only_owners_reach_the_keys(app: FastAPI, role: str) -> None:
    async with _client(app, role) as client:
        assert (await client.get("/settings/api-keys")).status_code == 403
        page = await client.get("/settings")
        assert 'href="/settings/api-keys"' not in page.text
        refused = await client.post(
            "/settings/api-keys", data={"csrf": csrf_of(page.text), "name": "x", "scope": "write"}
        )
        assert refused.status_code == 403
