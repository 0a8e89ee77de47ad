"""The staff live stream: a change committed anywhere reaches an open SSE stream, and a
reconnecting browser gets what it missed via Last-Event-ID; a stream hears only of its own
organisation's changes, live and replayed."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.db.scope import ALL, acting_for, scoped_to
from payrequest.events import outbox
from payrequest.events.models import OutboxEvent
from payrequest.organisations import service as organisations
from payrequest.organisations.service import NewOrganisation
from payrequest.providers.vipps.provider import VippsProvider
from payrequest.users import service as users
from tests.conftest import TEST_ORGANISATION
from tests.factories import make_customer, make_invoice
from tests.lifecycle.conftest import Emulator, LiveServer, send_request

Sessions = async_sessionmaker[AsyncSession]


async def _signed_in(live: LiveServer, sessions: Sessions) -> httpx.AsyncClient:
    async with sessions() as session, session.begin():
        await users.create_user(session, email="s@example.no", password="staff password")
    http = httpx.AsyncClient(base_url=live.url, timeout=10)
    page = await http.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    response = await http.post(
        "/login",
        data={"email": "s@example.no", "password": "staff password", "csrf": token.group(1)},
    )
    assert response.status_code == 303
    return http


async def _read_events(
    http: httpx.AsyncClient,
    count: int,
    headers: dict[str, str] | None = None,
    started: asyncio.Event | None = None,
    *,
    path: str = "/events",
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with http.stream("GET", path, headers=headers or {}) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        current: dict[str, Any] = {}
        async for line in stream.aiter_lines():
            if line.startswith(": ready") and started is not None:
                started.set()
            if line.startswith("id:"):
                current["id"] = int(line[3:].strip())
            elif line.startswith("data:"):
                current.update(json.loads(line[5:].strip()))
            elif not line and "id" in current:
                if str(current.get("name", "")).startswith("payment_request."):
                    events.append(current)  # other notices (the invoice made above) may come
                current = {}
                if len(events) >= count:
                    return events
    return events


async def test_a_change_reaches_an_open_stream_and_missed_ones_are_replayed(
    sessions: Sessions,
    live: LiveServer,
    provider: VippsProvider,
    emulator: Emulator,
    webhook_ready: None,
) -> None:
    http = await _signed_in(live, sessions)
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoice = await make_invoice(session, customer, amount=9_000)
    started = asyncio.Event()
    reader = asyncio.create_task(_read_events(http, 2, started=started))
    await asyncio.wait_for(started.wait(), 10)
    reference = await send_request(
        sessions, provider, customer_id=customer.id, invoice_ids=[invoice.id]
    )
    written, first = await asyncio.wait_for(reader, 10)
    assert (written["name"], first["name"]) == (
        "payment_request.sending",  # written, with its send job
        "payment_request.created",  # the provider has it
    )
    assert first["customer_id"] == customer.id and first["reference"] == reference

    # The browser is away while the customer approves and the payment completes ...
    await emulator.approve(reference)
    for _ in range(200):
        async with sessions() as session:
            names = (await session.execute(select(OutboxEvent.name))).scalars().all()
        if "payment_request.paid" in names:
            break
        await asyncio.sleep(0.05)
    # ... and on reconnecting it gets exactly what came after the last id it saw.
    replayed = await asyncio.wait_for(
        _read_events(http, 2, headers={"Last-Event-ID": str(first["id"])}), 10
    )
    assert [e["name"] for e in replayed][:2] == [
        "payment_request.authorized",
        "payment_request.paid",
    ]
    assert all(e["id"] > first["id"] for e in replayed)
    await http.aclose()


async def test_the_stream_refuses_anonymous_visitors(live: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live.url) as http:
        response = await http.get("/events")
    assert response.status_code == 303


async def _change(sessions: Sessions, organisation_id: int, aggregate_id: int) -> int:
    """A change committed for `organisation_id` (from outside the server: its tail hears of it
    through the table, as of another process's commit); its outbox id."""
    with acting_for(organisation_id):
        async with sessions() as session, session.begin():
            event = await outbox.record(
                session,
                name="payment_request.created",
                aggregate_type="payment_request",
                aggregate_id=aggregate_id,
            )
            await session.flush()
            assert event.organisation_id == organisation_id
            return event.id


async def test_a_stream_never_hears_of_another_organisations_changes(
    sessions: Sessions, live: LiveServer
) -> None:
    """Staff of the first organisation: another business's change, committed before and
    while the stream is open, is neither sent live nor replayed; their own is, both ways."""
    http = await _signed_in(live, sessions)  # a member of the first organisation
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        other = await organisations.create(
            session, NewOrganisation(name="Nordlys Rør AS", slug="nordlys")
        )
    earlier = await _change(sessions, other.id, 900)
    started = asyncio.Event()
    reader = asyncio.create_task(
        _read_events(http, 1, {"Last-Event-ID": str(earlier - 1)}, started)
    )
    await asyncio.wait_for(started.wait(), 10)
    theirs = await _change(sessions, other.id, 901)
    ours = await _change(sessions, TEST_ORGANISATION, 101)
    assert earlier < theirs < ours

    [first] = await asyncio.wait_for(reader, 10)  # the tail publishes in id order

    assert (first["id"], first["aggregate_id"]) == (ours, 101)
    assert "organisation_id" not in first  # never sent to the browser
    replayed = await asyncio.wait_for(
        _read_events(http, 1, headers={"Last-Event-ID": str(earlier - 1)}), 10
    )
    assert [e["id"] for e in replayed] == [ours]
    await http.aclose()
