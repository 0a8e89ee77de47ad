"""The flow builder in several languages over HTTP: a message action has a field per language
(the default first), each variant is checked and saved; the ready-made flows are named in the
reader's language and keep their name when saved unchanged; a run's error is shown translated;
the recipient is chosen, not typed as the English word "customer"."""

from __future__ import annotations

import importlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.automations.models import ActionRun, Flow, FlowAction, FlowRun
from payrequest.errors import PayrequestError
from payrequest.events.models import OutboxEvent
from payrequest.i18n import kept
from tests.staff import app_client, create_staff, csrf_of, sign_in

Sessions = async_sessionmaker[AsyncSession]
flow_texts = importlib.import_module("payrequest.migrations.versions.20261130_flow_texts")


@pytest.fixture
async def client(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    await create_staff(sessions, roles=("owner",), locale="nb")
    async with app_client(database_url, tmp_path, run_worker=False) as http:
        await sign_in(http, "owner")
        yield http


async def _ready_made(sessions: Sessions) -> dict[str, int]:
    """The ready-made flows as migrations 0004 and 0008 leave them."""
    ids = {}
    async with sessions() as session, session.begin():
        for (name, trigger, kind), config in flow_texts.AS_INSERTED.items():
            flow = Flow(name=name, trigger=trigger, enabled=False, conditions={})
            flow.actions.append(
                FlowAction(position=0, kind=kind, config=flow_texts.with_variants(name, config))
            )
            session.add(flow)
            await session.flush()
            ids[name] = flow.id
    return ids


def _form(token: str, **extra: str) -> dict[str, str]:
    base = {
        "csrf": token,
        "name": "Kvittering",
        "trigger": "payment_request.paid",
        "action_count": "1",
        "a0_kind": "sms",
        "a0_recipient": "customer",
        "a0_to": "",
        "a0_text": "Takk, {{ customer_name }}!",
        "a0_text_da": "Tak, {{ customer_name }}!",
        "a0_text_en": "",
    }
    return {**base, **extra}


async def test_a_message_action_has_a_field_per_language_and_saves_the_variants(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    page = (await client.get("/flows/new")).text
    for field, language in (("a0_text", "nb"), ("a0_text_da", "da"), ("a0_text_en", "en")):
        assert re.search(rf'<textarea id="{field}" name="{field}"[^>]*lang="{language}"', page)
    assert re.search(r'<textarea id="a0_text_da"[^>]*>Tak, \{\{ customer_name \}\}', page)
    token = csrf_of(page)

    bad = await client.post("/flows/new", data=_form(token, a0_text_da="Tak {{ kunde }}"))
    assert bad.status_code == 422
    assert re.search(r'data-error="a0_text_da"[^>]*>[^<]*kunde', bad.text)

    saved = await client.post("/flows/new", data=_form(token))
    assert saved.status_code == 303
    flow_id = int(saved.headers["location"].rsplit("/", 1)[1])
    async with sessions() as session:
        action = (await session.scalars(select(FlowAction).filter_by(flow_id=flow_id))).one()
    assert action.config == {
        "to": "customer",
        "text": "Takk, {{ customer_name }}!",
        "language": "nb",
        "variants": {"da": {"text": "Tak, {{ customer_name }}!"}},
    }

    fixed = await client.post(
        "/flows/new", data=_form(token, a0_recipient="fixed", a0_to="", name="Til meg")
    )
    assert fixed.status_code == 422
    assert "Skriv inn et mobilnummer, eller velg kunden" in fixed.text


async def test_ready_made_flows_are_named_in_the_readers_language(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    ids = await _ready_made(sessions)
    listing = (await client.get("/flows")).text
    assert "SMS-kvittering når en betaling er fullført" in listing
    assert "Varsle ansatte på e-post når en betaling mislykkes" in listing
    assert "Betalingsforespørsel betalt" in listing  # the event, not payment_request.paid
    receipt = ids[flow_texts.RECEIPT]
    editor = (await client.get(f"/flows/{receipt}")).text
    assert 'value="SMS-kvittering når en betaling er fullført"' in editor
    # The default language's field holds the Norwegian text, English is a variant now.
    assert re.search(r'<textarea id="a0_text" [^>]*lang="nb">Takk, \{\{ customer_name', editor)
    assert re.search(r'<textarea id="a0_text_en" [^>]*lang="en">Thank you', editor)

    token = csrf_of(editor)
    form = {
        "csrf": token,
        "name": "SMS-kvittering når en betaling er fullført",
        "trigger": "payment_request.paid",
        "action_count": "1",
        "a0_kind": "sms",
        "a0_recipient": "customer",
        "a0_text": "Takk, {{ customer_name }}! Vi har mottatt {{ amount }}.",
        "a0_text_da": "Tak, {{ customer_name }}!",
        "a0_text_en": "Thank you, {{ customer_name }}!",
    }
    assert (await client.post(f"/flows/{receipt}", data=form)).status_code == 303
    renamed = {**form, "name": "Kvittering på SMS"}
    async with sessions() as session:
        stored = await session.get(Flow, receipt)
        assert stored is not None and stored.name == flow_texts.RECEIPT  # still the message id
    assert (await client.post(f"/flows/{receipt}", data=renamed)).status_code == 303
    async with sessions() as session:
        stored = await session.get(Flow, receipt)
        assert stored is not None and stored.name == "Kvittering på SMS"


async def test_a_runs_error_is_shown_in_the_readers_language(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    ids = await _ready_made(sessions)
    async with sessions() as session, session.begin():
        event = OutboxEvent(
            name="payment_request.paid", aggregate_type="payment_request", aggregate_id=1
        )
        session.add(event)
        await session.flush()
        run = FlowRun(
            flow_id=ids[flow_texts.RECEIPT],
            outbox_event_id=event.id,
            event_name=event.name,
            status="failed",
            actions=[
                {"kind": "sms", "config": {"to": "customer", "text": "x"}},
                {"kind": "payment_request", "config": {}},
            ],
            error="The customer has no mobile number",
        )
        run.action_runs.append(
            ActionRun(
                position=0,
                kind="sms",
                status="failed",
                attempts=1,
                idempotency_key="flowrun-x-action-0",
                last_error="The customer has no mobile number",
            )
        )
        busy = PayrequestError(  # an error with parameters is kept with them (i18n.kept)
            "Invoice %(numbers)s already has a payment request waiting for the customer",
            numbers=["INV-7"],
        )
        run.action_runs.append(
            ActionRun(
                position=1,
                kind="payment_request",
                status="failed",
                attempts=1,
                idempotency_key="flowrun-x-action-1",
                last_error=kept.dumps(busy),
            )
        )
        session.add(run)
        await session.flush()
        run_id = run.id
    log = (await client.get(f"/flows/runs/{run_id}")).text
    assert "The customer has no mobile number" not in log
    assert log.count("Kunden har ikke noe mobilnummer") == 2
    assert "Faktura INV-7 har allerede en betalingsforespørsel som venter på kunden" in log
    assert "template" not in log
    assert "Betalingsforespørsel betalt" in log
    editor = (await client.get(f"/flows/{ids[flow_texts.RECEIPT]}")).text
    assert "Kunden har ikke noe mobilnummer" in editor  # the runs table
