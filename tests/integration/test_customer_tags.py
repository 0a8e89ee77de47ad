"""Customer tags end to end (issue 18), on SQLite and PostgreSQL: the admin's form saves them and
the card shows them, the customer list filters by one, the API reads and writes them, the CSV
import takes a `tags` column, and a flow's `tag` condition starts it for the tagged customer
only."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.audit.models import AuditEntry
from payrequest.automations import service as flows
from payrequest.automations.dispatch import dispatch
from payrequest.automations.models import FlowRun
from payrequest.customers import repository as customers
from payrequest.customers.models import Customer, CustomerTag
from payrequest.db.scope import ALL, scoped_to
from payrequest.events.models import OutboxEvent
from payrequest.imports.customers import CUSTOMERS
from payrequest.imports.run import run_import
from payrequest.kit.crypto import SecretBox
from payrequest.kit.urls import PublicUrls
from tests.conftest import TEST_ORGANISATION
from tests.factories import make_customer, make_invoice
from tests.integration.api_helpers import api_app, client_of, make_key
from tests.staff import app_client, create_staff, csrf_of, sign_in

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def client(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    await create_staff(sessions, roles=("staff",))
    async with app_client(database_url, tmp_path, run_worker=False) as http:
        yield http


async def _tags(sessions: Sessions, customer_id: int) -> tuple[str, ...]:
    async with sessions() as session:
        return await customers.tags_of(session, customer_id)


def _shown_tags(html: str) -> list[str]:
    return re.findall(r'<a class="tag" href="/customers\?tag=[^"]*">([^<]*)</a>', html)


async def test_the_form_saves_tags_and_the_card_and_the_form_show_them(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    await sign_in(client)
    token = csrf_of((await client.get("/customers/new")).text)
    created = await client.post(
        "/customers",
        data={"csrf": token, "name": "Fjord AS", "tags": "VIP, Fjord  kunde, vip, Ærlig,"},
    )
    assert created.status_code == 303, created.text
    customer_id = int(created.headers["location"].rsplit("/", 1)[1])
    assert await _tags(sessions, customer_id) == ("fjord kunde", "vip", "ærlig")

    card = await client.get(f"/customers/{customer_id}")
    assert _shown_tags(card.text) == ["fjord kunde", "vip", "ærlig"]
    assert 'href="/customers?tag=fjord%20kunde"' in card.text
    form = await client.get(f"/customers/{customer_id}/edit")
    assert 'name="tags" maxlength="800" value="fjord kunde, vip, ærlig"' in form.text

    bad = await client.post(
        f"/customers/{customer_id}",
        data={"csrf": token, "name": "Fjord AS", "tags": "vip, 50% off"},
    )
    assert bad.status_code == 422
    assert "only letters, digits, spaces, - and _: “50% off”" in bad.text
    assert 'value="vip, 50% off"' in bad.text  # what was typed stays in the field
    assert await _tags(sessions, customer_id) == ("fjord kunde", "vip", "ærlig")  # unchanged

    edited = await client.post(
        f"/customers/{customer_id}", data={"csrf": token, "name": "Fjord AS", "tags": "b2b, vip"}
    )
    assert edited.status_code == 303
    assert await _tags(sessions, customer_id) == ("b2b", "vip")
    async with sessions() as session:
        entry = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "customer.update")
                .order_by(AuditEntry.id.desc())
            )
        ).first()
    assert entry is not None and entry.details["tags"] == "fjord kunde, vip, ærlig → b2b, vip"
    cleared = await client.post(
        f"/customers/{customer_id}", data={"csrf": token, "name": "Fjord AS", "tags": ""}
    )
    assert cleared.status_code == 303
    assert await _tags(sessions, customer_id) == ()
    assert _shown_tags((await client.get(f"/customers/{customer_id}")).text) == []


async def test_the_customer_list_is_filtered_by_a_tag(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    async with sessions() as session, session.begin():
        await make_customer(session, name="Anne Vip", tags=("vip", "b2b"))
        await make_customer(session, name="Bjørn Vanlig", tags=("b2b",))
        await make_customer(session, name="Cecilie Uten")
    await sign_in(client)

    every = await client.get("/customers")
    assert all(name in every.text for name in ("Anne Vip", "Bjørn Vanlig", "Cecilie Uten"))
    assert 'href="/customers?tag=vip"' in every.text  # each shown tag links to its filter

    vip = await client.get("/customers", params={"tag": " VIP "})
    assert "Anne Vip" in vip.text
    assert "Bjørn Vanlig" not in vip.text and "Cecilie Uten" not in vip.text
    assert "Only customers tagged “vip”." in vip.text
    both = await client.get("/customers", params={"tag": "b2b", "q": "bjørn"})
    assert "Bjørn Vanlig" in both.text and "Anne Vip" not in both.text
    none = await client.get("/customers", params={"tag": "nobody has this"})
    assert none.status_code == 200 and "No customers match." in none.text
    odd = await client.get("/customers", params={"tag": "%_'\"" * 40})
    assert odd.status_code == 200 and "No customers match." in odd.text


async def test_the_api_reads_and_writes_tags(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    key = await make_key(sessions)
    async with api_app(database_url, tmp_path) as app, client_of(app, key) as api:
        made = await api.post("/customers", json={"name": "Fjord AS", "tags": ["VIP", "b2b"]})
        assert made.status_code == 201, made.text
        customer = made.json()
        assert customer["tags"] == ["b2b", "vip"]
        assert (await api.get(f"/customers/{customer['id']}")).json()["tags"] == ["b2b", "vip"]

        kept = await api.patch(f"/customers/{customer['id']}", json={"email": "a@fjord.no"})
        assert kept.json()["tags"] == ["b2b", "vip"]  # left out: kept
        changed = await api.patch(f"/customers/{customer['id']}", json={"tags": ["fjord"]})
        assert changed.json()["tags"] == ["fjord"]
        assert changed.json()["updated"] >= customer["updated"]
        listed = (await api.get("/customers")).json()["data"]
        assert [c["tags"] for c in listed] == [["fjord"]]

        bad = await api.patch(f"/customers/{customer['id']}", json={"tags": ["no!"]})
        assert bad.status_code == 422
        assert (bad.json()["code"], bad.json()["field"]) == ("validation_failed", "tags")
        cleared = await api.patch(f"/customers/{customer['id']}", json={"tags": None})
        assert cleared.json()["tags"] == []

        put = {"name": "Bakeri AS", "tags": ["bakery"]}
        created = await api.put("/customers/by-external-id/ERP-1", json=put)
        assert created.status_code == 201 and created.json()["tags"] == ["bakery"]
        again = await api.put("/customers/by-external-id/ERP-1", json=put)
        assert again.status_code == 200 and again.json() == created.json()  # unchanged

        schema = (await api.get("/openapi.json")).json()["components"]["schemas"]
        assert "tags" in schema["CustomerObject"]["required"]
        assert "tags" in schema["CustomerCreate"]["properties"]


async def test_the_csv_import_takes_a_tags_column(sessions: Sessions) -> None:
    text = "external_id;name;tags\nC-1;Fjord AS;VIP, b2b\nC-2;Bakeri AS;\nC-3;Feil AS;vip!\n"
    report = await run_import(
        sessions,
        kind=CUSTOMERS,
        source=io.BytesIO(text.encode()),
        organisation_id=TEST_ORGANISATION,
        dry_run=False,
    )
    assert (report.created, report.failed_rows) == (2, 1)
    assert [(e.row, e.column) for e in report.errors] == [(4, "tags")]
    async with sessions() as session:
        found = {c.external_id: c.id for c in (await session.scalars(select(Customer))).all()}
    assert await _tags(sessions, found["C-1"]) == ("b2b", "vip")
    assert await _tags(sessions, found["C-2"]) == ()

    again = await run_import(
        sessions,
        kind=CUSTOMERS,
        source=io.BytesIO(b"external_id,tags\nC-1,fjord\nC-2,\n"),
        organisation_id=TEST_ORGANISATION,
        dry_run=False,
    )
    assert (again.updated, again.unchanged) == (1, 1)
    assert await _tags(sessions, found["C-1"]) == ("fjord",)  # the column replaces them


async def test_a_flow_with_a_tag_condition_runs_for_the_tagged_customer_only(
    sessions: Sessions,
) -> None:
    draft = flows.Draft(
        name="VIP receipt",
        trigger="invoice.created",
        conditions={"tag": "VIP"},
        actions=[{"kind": "sms", "config": {"to": "customer", "text": "Takk {{ amount }}"}}],
    )
    async with sessions() as session, session.begin():
        flow = await flows.save(session, draft=draft, box=SecretBox("test key"), allow=())
        await flows.set_enabled(session, flow_id=flow.id, enabled=True)
        assert flow.conditions == {"tag": "vip"}
        tagged = await make_customer(session, name="Anne Vip", tags=("vip",))
        other = await make_customer(session, name="Bjørn B2B", tags=("b2b",))
        for customer in (tagged, other, tagged):
            await make_invoice(session, customer)
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        await dispatch(session, urls=PublicUrls("https://pay.example.no", signing_key="test"))
    async with sessions() as session:
        started = (
            await session.execute(
                select(OutboxEvent.customer_id)
                .join(FlowRun, FlowRun.outbox_event_id == OutboxEvent.id)
                .where(FlowRun.flow_id == flow.id)
            )
        ).scalars()
        assert list(started) == [tagged.id, tagged.id]
        assert len((await session.scalars(select(CustomerTag))).all()) == 2
