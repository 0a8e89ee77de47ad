"""`Idempotency-Key` over HTTP in-process, on SQLite and PostgreSQL (docs/api.md,
"Idempotency"): the same key and body again get the first answer (status and body, marked
replayed) and change nothing more; another body or path with the key is a 409; a key whose
first request has not answered yet is a 409; a refusal is replayed like a success."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.api_keys import idempotency
from payrequest.customers.models import Customer
from tests.integration.api_helpers import api_app, client_of, make_key

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def app(database_url: str, sessions: Sessions, tmp_path: Path) -> AsyncIterator[FastAPI]:
    async with api_app(database_url, tmp_path) as application:
        yield application


async def _customers(sessions: Sessions) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count(Customer.id)))).scalar_one())


async def test_the_same_request_again_gets_the_first_answer(
    app: FastAPI, sessions: Sessions
) -> None:
    key = await make_key(sessions)
    body = {"name": "Fjord AS", "external_id": "ERP-1"}
    async with client_of(app, key) as client:
        first = await client.post("/customers", json=body, headers={"Idempotency-Key": "k-1"})
        again = await client.post("/customers", json=body, headers={"Idempotency-Key": "k-1"})
        assert (first.status_code, again.status_code) == (201, 201)
        assert again.content == first.content
        assert "idempotent-replayed" not in first.headers
        assert again.headers["idempotent-replayed"] == "true"
        assert again.headers["content-type"] == "application/json"
        assert await _customers(sessions) == 1

        other_body = await client.post(
            "/customers", json={**body, "name": "Other AS"}, headers={"Idempotency-Key": "k-1"}
        )
        assert other_body.status_code == 409
        assert other_body.json()["code"] == "idempotency_key_reused"
        other_path = await client.patch(
            f"/customers/{first.json()['id']}", json=body, headers={"Idempotency-Key": "k-1"}
        )
        assert other_path.json()["code"] == "idempotency_key_reused"
        fresh = await client.post(
            "/customers", json={"name": "Other AS"}, headers={"Idempotency-Key": "k-2"}
        )
        assert fresh.status_code == 201
        assert await _customers(sessions) == 2


async def test_a_refusal_is_answered_the_same_way_again(app: FastAPI, sessions: Sessions) -> None:
    key = await make_key(sessions)
    async with client_of(app, key) as client:
        await client.post("/customers", json={"name": "A", "external_id": "ERP-1"})
        taken = {"name": "B", "external_id": "ERP-1"}
        first = await client.post("/customers", json=taken, headers={"Idempotency-Key": "k"})
        assert first.status_code == 409 and first.json()["code"] == "external_id_taken"
        again = await client.post("/customers", json=taken, headers={"Idempotency-Key": "k"})
        assert (again.status_code, again.content) == (409, first.content)
        assert again.headers["content-type"] == "application/problem+json"
        assert again.headers["idempotent-replayed"] == "true"


async def test_a_key_still_being_answered_is_a_conflict(app: FastAPI, sessions: Sessions) -> None:
    """The first request with the key is running (its claim made, no answer yet)."""
    key = await make_key(sessions)
    body = b'{"name": "Fjord AS"}'
    async with sessions() as session, session.begin():
        await idempotency.claim(
            session, api_key_id=1, key="busy", method="POST", path="/api/v1/customers", body=body
        )
    async with client_of(app, key) as client:
        busy = await client.post(
            "/customers",
            content=body,
            headers={"Idempotency-Key": "busy", "Content-Type": "application/json"},
        )
        assert busy.status_code == 409 and busy.json()["code"] == "idempotency_key_in_use"
        assert busy.json()["field"] == "Idempotency-Key"
    assert await _customers(sessions) == 0


async def test_a_key_that_is_no_key_is_refused(app: FastAPI, sessions: Sessions) -> None:
    key = await make_key(sessions)
    async with client_of(app, key) as client:
        for bad in ("", "with space", "x" * 256):
            refused = await client.post(
                "/customers", json={"name": "A"}, headers={"Idempotency-Key": bad}
            )
            assert refused.status_code == 422, bad
            assert refused.json()["code"] == "invalid_idempotency_key"
    assert await _customers(sessions) == 0
