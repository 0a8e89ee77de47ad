"""The Settings page's "Test the webhook" and "Register webhook" buttons, and the operations
page's rejected-signature counter, against a live server whose mounted emulator delivers
webhooks over real HTTP."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.db.scope import ALL, scoped_to
from payrequest.inbound.models import InboundEvent
from payrequest.providers.vipps import signature
from payrequest.users import service as users
from tests.lifecycle.conftest import LiveServer

pytestmark = pytest.mark.usefixtures("webhook_ready")
Sessions = async_sessionmaker[AsyncSession]
PASSWORD = "correct horse"


@pytest.fixture
async def http(live: LiveServer, sessions: Sessions) -> AsyncIterator[httpx.AsyncClient]:
    async with sessions() as session, session.begin():
        for role in ("owner", "staff"):
            await users.create_user(
                session, email=f"{role}@example.no", password=PASSWORD, role=role, locale="en"
            )
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        yield client


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "form has no CSRF token"
    return match.group(1)


async def _sign_in(http: httpx.AsyncClient, role: str) -> str:
    token = _csrf((await http.get("/login")).text)
    response = await http.post(
        "/login", data={"email": f"{role}@example.no", "password": PASSWORD, "csrf": token}
    )
    assert response.status_code == 303
    return _csrf((await http.get("/settings")).text)


async def test_the_webhook_test_reports_the_events_it_received(
    http: httpx.AsyncClient, sessions: Sessions
) -> None:
    token = await _sign_in(http, "staff")
    page = (await http.get("/settings")).text
    assert 'data-webhook-status="registered"' in page
    response = await http.post("/settings/webhook/test", data={"csrf": token})
    assert response.status_code == 303
    html = (await http.get("/settings")).text
    found = re.search(r"Webhook test passed: received CREATED, TERMINATED in (\d+) ms", html)
    assert found, html[html.find("<main") : html.find("<main") + 800]
    assert int(found.group(1)) < 10_000
    async with sessions(info=scoped_to(ALL)) as session:
        rows = (
            await session.execute(
                select(
                    InboundEvent.reference,
                    InboundEvent.event_name,
                    InboundEvent.status,
                    InboundEvent.organisation_id,
                )
            )
        ).all()
    references = {str(reference) for reference, _, _, _ in rows}
    assert len(references) == 1 and next(iter(references)).startswith("check-")
    assert sorted(str(name) for _, name, _, _ in rows) == ["created", "terminated"]
    assert {status for _, _, status, _ in rows} == {"unmatched"}  # no payment request has it
    # No payment, so no organisation's: the installation's own rows (db.scope).
    assert {organisation for _, _, _, organisation in rows} == {None}


async def test_owner_registers_the_webhook_again(http: httpx.AsyncClient) -> None:
    token = await _sign_in(http, "owner")
    response = await http.post("/settings/webhook/register", data={"csrf": token})
    assert response.status_code == 303
    html = (await http.get("/settings")).text
    assert "The webhook was already registered for" in html
    assert 'data-webhook-status="registered"' in html
    # The secret still matches: a round trip after the registration passes.
    await http.post("/settings/webhook/test", data={"csrf": token})
    assert "Webhook test passed" in (await http.get("/settings")).text


async def test_forged_webhooks_are_counted_on_the_operations_page(
    http: httpx.AsyncClient, live: LiveServer, sessions: Sessions
) -> None:
    url = f"{live.url}/webhooks/vipps"
    body = json.dumps({"msn": "123456", "reference": "forged-1", "name": "AUTHORIZED"}).encode()
    date = format_datetime(datetime.now(UTC), usegmt=True)
    headers = {
        "x-ms-date": date,
        "x-ms-content-sha256": signature.content_hash(body),
        "Authorization": signature.authorization("not-the-secret", url, date, body),
        "content-type": "application/json",
    }
    async with httpx.AsyncClient() as outsider:
        for _ in range(2):
            response = await outsider.post(url, content=body, headers=headers)
            assert response.status_code == 401
        unsigned = await outsider.post(url, content=body)
        assert unsigned.status_code == 401
    async with sessions() as session:
        assert (await session.execute(select(InboundEvent.id))).first() is None
    await _sign_in(http, "staff")
    html = (await http.get("/operations")).text
    assert 'data-rejected-count="3"' in html
