"""An authentic webhook (signed with our secret) is always acknowledged, even when its body is
no event we can read: kept in the inbox as `unusable` with the reason, counted on the
operations page, and the payment's later events are applied as usual (issue 13)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.app import create_app
from payrequest.config import load_settings
from payrequest.db.scope import ALL, scoped_to
from payrequest.inbound import registrations
from payrequest.inbound.models import InboundEvent
from payrequest.providers.vipps import signature
from tests.staff import BASE, create_staff, sign_in

Sessions = async_sessionmaker[AsyncSession]
SECRET = "the-secret-of-our-registration"
URL = f"{BASE}/webhooks/vipps"


@pytest.fixture
async def app(database_url: str, sessions: Sessions, tmp_path: Path) -> AsyncIterator[FastAPI]:
    app = create_app(
        load_settings(database_url=database_url, var_dir=tmp_path, public_url=BASE),
        run_worker=False,
    )
    runtime = app.state.runtime
    async with sessions() as session, session.begin():
        await registrations.add(
            session,
            provider="vipps",
            merchant_id="123456",  # the MSN the deliveries below name
            external_id="hook-1",
            url=URL,
            secret=SECRET,
            box=runtime.box,
        )
    await create_staff(sessions, roles=("owner",))
    yield app
    await runtime.close()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield http


def signed(raw: bytes) -> dict[str, str]:
    """Headers as Vipps MobilePay signs a delivery of `raw` to our address."""
    date = format_datetime(datetime.now(UTC), usegmt=True)
    return {
        "Content-Type": "application/json",
        "x-ms-date": date,
        "x-ms-content-sha256": signature.content_hash(raw),
        "Authorization": signature.authorization(SECRET, URL, date, raw),
    }


def event(reference: str = "pr-unknown-1", **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "msn": "123456",
        "reference": reference,
        "pspReference": "psp-1",
        "name": "AUTHORIZED",
        "amount": {"currency": "NOK", "value": 1000},
        "timestamp": "2026-11-30T10:00:00.000Z",
        "idempotencyKey": None,
        "success": True,
    }
    body.update(changes)
    return body


UNUSABLE = {
    "a list": b"[]",
    "null": b"null",
    "a string": b'"AUTHORIZED"',
    "a number": b"1e309",
    "not JSON": b"{nope",
    "a NUL byte": b'{"reference":"a\x00b"}',
    "an empty object": b"{}",
    "no reference": json.dumps({k: v for k, v in event().items() if k != "reference"}).encode(),
    "a reference of 65 characters": json.dumps(event("r" * 65)).encode(),
    "a reference of 10,000 characters": json.dumps(event("r" * 10_000)).encode(),
    "a NUL in the reference": json.dumps(event("pr-\x00-1")).encode(),
    "an amount that is text": json.dumps(event(amount={"currency": "NOK", "value": "1"})).encode(),
    "an unknown currency": json.dumps(event(amount={"currency": "XXXX", "value": 1})).encode(),
    "a bad timestamp": json.dumps(event(timestamp="yesterday")).encode(),
    "a numeric msn": json.dumps(event(msn=123456)).encode(),
    "an unknown event": json.dumps(event(name="EXPLODED")).encode(),
}


@pytest.mark.parametrize("raw", UNUSABLE.values(), ids=UNUSABLE.keys())
async def test_an_authentic_unreadable_webhook_is_kept_unusable_and_acknowledged(
    client: httpx.AsyncClient, sessions: Sessions, raw: bytes
) -> None:
    response = await client.post("/webhooks/vipps", content=raw, headers=signed(raw))
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "unusable"}
    again = await client.post("/webhooks/vipps", content=raw, headers=signed(raw))
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    async with sessions(info=scoped_to(ALL)) as session:
        rows = (await session.scalars(select(InboundEvent))).all()
    assert [row.status for row in rows] == ["unusable"]
    assert rows[0].error and rows[0].reference is None
    assert rows[0].organisation_id is None  # no business's: seen by installation-wide work only


async def test_unusable_events_are_shown_and_hold_nothing_back(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    for raw in (b"[]", json.dumps(event("r" * 65)).encode()):
        assert (await client.post("/webhooks/vipps", content=raw, headers=signed(raw))).is_success
    later = json.dumps(event("pr-unknown-1")).encode()
    response = await client.post("/webhooks/vipps", content=later, headers=signed(later))
    assert response.json() == {"status": "unmatched"}  # read and stored as any other event
    async with sessions(info=scoped_to(ALL)) as session:
        rows = (await session.scalars(select(InboundEvent).order_by(InboundEvent.id))).all()
    assert [row.status for row in rows] == ["unusable", "unusable", "unmatched"]
    assert "longer than 64 characters" in (rows[1].error or "")
    # They belong to no organisation: a business's staff do not see them.
    assert {row.organisation_id for row in rows} == {None}
    await sign_in(client, "owner")
    page = (await client.get("/operations?status_filter=unusable")).text
    assert "longer than 64 characters" not in page


async def test_a_forgery_is_still_refused(client: httpx.AsyncClient, sessions: Sessions) -> None:
    raw = b"[]"
    headers = signed(raw) | {"Authorization": signature.authorization("wrong", URL, "x", raw)}
    assert (await client.post("/webhooks/vipps", content=raw, headers=headers)).status_code == 401
    async with sessions(info=scoped_to(ALL)) as session:
        assert (await session.scalars(select(InboundEvent))).first() is None


@pytest.mark.parametrize("path", ["/webhooks/nobody", "/webhooks/stripe-x", "/webhooks/nobody/t0k"])
async def test_a_webhook_to_a_provider_we_do_not_have_is_not_found_and_not_kept(
    client: httpx.AsyncClient, sessions: Sessions, path: str
) -> None:
    """The path names the provider: a genuine Vipps MobilePay body, signed with our secret,
    sent to another provider's address is nobody's event."""
    raw = json.dumps(event("pr-1")).encode()
    response = await client.post(path, content=raw, headers=signed(raw))
    assert response.status_code == 404, response.text
    async with sessions(info=scoped_to(ALL)) as session:
        assert (await session.scalars(select(InboundEvent))).all() == []
