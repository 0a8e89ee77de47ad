"""`/api/v1/webhook_endpoints` over HTTP against the real app, on SQLite and PostgreSQL: an
external system makes an endpoint (the secret in that answer only), reads, changes, rotates and
deletes it, and reads its deliveries with the log of each try after a real delivery to a
receiver on loopback; bad input is a problem with its code and field; another organisation's
endpoint reads as none; a read key may only read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.db.scope import ALL, scoped_to
from payrequest.events import names, outbox
from payrequest.organisations import service as organisations
from payrequest.organisations.service import NewOrganisation
from payrequest.webhooks.fanout import fan_out
from tests.integration.api_helpers import api_app, client_of, make_key
from tests.integration.test_webhooks import an_invoice
from tests.integration.webhook_receiver import receiving

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def app(database_url: str, sessions: Sessions, tmp_path: Path) -> AsyncIterator[FastAPI]:
    async with api_app(
        database_url, tmp_path, automations={"webhook_allow": ["127.0.0.1"]}
    ) as application:
        yield application


@pytest.fixture
async def client(app: FastAPI, sessions: Sessions) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(app, await make_key(sessions)) as made:
        yield made


async def test_make_read_change_rotate_and_delete_an_endpoint(
    client: httpx.AsyncClient,
) -> None:
    made = await client.post(
        "/webhook_endpoints",
        json={"url": "https://93.184.215.14/hooks", "event_types": ["invoice.paid"]},
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["object"] == "webhook_endpoint" and body["id"].startswith("we_")
    assert body["secret"].startswith("whsec_") and body["status"] == "enabled"
    assert body["event_types"] == ["invoice.paid"] and body["secret_rotated_until"] is None
    endpoint = body["id"]

    got = await client.get(f"/webhook_endpoints/{endpoint}")
    assert got.status_code == 200 and "secret" not in got.json()
    listed = (await client.get("/webhook_endpoints")).json()
    assert [e["id"] for e in listed["data"]] == [endpoint] and listed["has_more"] is False

    changed = await client.patch(
        f"/webhook_endpoints/{endpoint}",
        json={"enabled": False, "event_types": ["invoice.paid", "refund.failed"]},
    )
    assert changed.status_code == 200
    assert changed.json()["status"] == "disabled"
    assert changed.json()["event_types"] == ["invoice.paid", "refund.failed"]

    rotated = await client.post(f"/webhook_endpoints/{endpoint}/rotate_secret")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != body["secret"]
    assert rotated.json()["secret_rotated_until"] is not None

    deliveries = (await client.get(f"/webhook_endpoints/{endpoint}/deliveries")).json()
    assert deliveries == {"object": "list", "data": [], "has_more": False}

    gone = await client.delete(f"/webhook_endpoints/{endpoint}")
    assert gone.json() == {"id": endpoint, "object": "webhook_endpoint", "deleted": True}
    missing = await client.get(f"/webhook_endpoints/{endpoint}")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


async def test_the_deliveries_and_their_log_after_a_real_delivery(
    app: FastAPI, client: httpx.AsyncClient, sessions: Sessions
) -> None:
    invoice = await an_invoice(sessions)
    async with receiving(answers=[502]) as receiver:
        made = (
            await client.post(
                "/webhook_endpoints",
                json={"url": receiver.url(), "event_types": ["invoice.paid"]},
            )
        ).json()
        async with sessions() as session, session.begin():
            event = await outbox.record(
                session, name=names.INVOICE_PAID, aggregate_type="invoice", aggregate_id=invoice
            )
            await session.flush()
            event_id = event.id
        runtime = app.state.runtime
        async with runtime.sessions(info=scoped_to(ALL)) as session, session.begin():
            await fan_out(session, now=runtime.webhook_services.clock())
        await runtime.worker().run_once()
    [got] = receiver.received
    assert got.verified(made["secret"])["id"] == f"evt_{event_id}"
    page = await client.get(f"/webhook_endpoints/{made['id']}/deliveries")
    [delivery] = page.json()["data"]
    assert delivery["object"] == "webhook_delivery" and delivery["id"].startswith("wd_")
    assert delivery["event"] == f"evt_{event_id}" and delivery["event_type"] == "invoice.paid"
    assert delivery["status"] == "pending" and delivery["attempts"] == 1
    assert delivery["next_attempt"] is not None
    [attempt] = delivery["log"]
    assert attempt["status_code"] == 502 and attempt["response_body"] == "answer 1: 502"
    assert "answered 502" in attempt["error"] and attempt["manual"] is False
    waiting = await client.get(
        f"/webhook_endpoints/{made['id']}/deliveries", params={"status": "delivered"}
    )
    assert waiting.json()["data"] == []
    # the events list names the event as the webhook did
    listed = (await client.get(f"/events/evt_{event_id}")).json()
    assert listed["type"] == "invoice.paid" and listed["data"]["object"]["id"] == f"inv_{invoice}"


async def test_bad_input_is_a_problem_naming_the_field(client: httpx.AsyncClient) -> None:
    unknown = await client.post(
        "/webhook_endpoints",
        json={"url": "https://93.184.215.14/", "event_types": ["invoice.deleted"]},
    )
    assert unknown.status_code == 422
    private = await client.post(
        "/webhook_endpoints", json={"url": "http://10.1.2.3/", "event_types": ["invoice.paid"]}
    )
    assert private.status_code == 422 and private.json()["field"] == "url"
    assert "private" in private.json()["detail"]
    none = await client.post(
        "/webhook_endpoints", json={"url": "https://93.184.215.14/", "event_types": []}
    )
    assert none.status_code == 422
    assert (await client.get("/webhook_endpoints/cus_1")).status_code == 404
    assert (await client.get("/webhook_endpoints")).json()["data"] == []


async def test_another_organisations_endpoint_reads_as_none_and_a_read_key_only_reads(
    app: FastAPI, sessions: Sessions
) -> None:
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        other = (
            await organisations.create(
                session, NewOrganisation(name="Dansk Rør ApS", slug="dansk-ror", market="DK")
            )
        ).id
    async with client_of(app, await make_key(sessions, organisation_id=other)) as theirs:
        made = await theirs.post(
            "/webhook_endpoints",
            json={"url": "https://93.184.215.14/", "event_types": ["invoice.paid"]},
        )
        assert made.status_code == 201
    endpoint = made.json()["id"]
    async with client_of(app, await make_key(sessions, scope="read")) as reader:
        assert (await reader.get(f"/webhook_endpoints/{endpoint}")).status_code == 404
        assert (await reader.get(f"/webhook_endpoints/{endpoint}/deliveries")).status_code == 404
        assert (await reader.get("/webhook_endpoints")).json()["data"] == []
        refused = await reader.post(
            "/webhook_endpoints",
            json={"url": "https://93.184.215.14/", "event_types": ["invoice.paid"]},
        )
        assert refused.status_code == 403
        assert (await reader.delete(f"/webhook_endpoints/{endpoint}")).status_code == 403
