"""The flow builder over HTTP: a template error is refused at save time and shown next to its
field; actions are added, moved and removed with plain form posts; preview renders against a real
past event; switches refuse an incomplete flow; read-only users only look."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.automations.execution import ACTION_JOB
from payrequest.automations.models import Flow, FlowAction, FlowRun
from payrequest.events.models import OutboxEvent
from payrequest.jobs.models import Job
from tests.factories import make_customer, make_invoice
from tests.staff import app_client, create_staff, csrf_of, sign_in

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def client(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    await create_staff(sessions, roles=("owner", "readonly"))
    async with app_client(database_url, tmp_path, run_worker=False) as http:
        yield http


_csrf = csrf_of


async def _sign_in(client: httpx.AsyncClient, role: str = "owner") -> str:
    await sign_in(client, role)
    return _csrf((await client.get("/flows/new")).text)


def _form(token: str, **extra: str) -> dict[str, str]:
    base = {
        "csrf": token,
        "name": "Receipt",
        "trigger": "invoice.created",
        "action_count": "1",
        "a0_kind": "sms",
        "a0_to": "customer",
        "a0_text": "Hi {{ customer_name }}, invoice {{ invoice_numbers }}: {{ amount }}",
    }
    base.update(extra)
    return base


async def test_a_template_error_is_refused_at_save_time_next_to_its_field(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    token = await _sign_in(client)
    response = await client.post(
        "/flows/new", data=_form(token, a0_text="Hi {{ customer_nam }}", op="save")
    )
    assert response.status_code == 422
    assert re.search(r'data-error="a0_text"[^>]*>[^<]*customer_nam', response.text)
    async with sessions() as session:
        assert (await session.scalars(select(Flow).where(Flow.name == "Receipt"))).all() == []


async def test_build_save_preview_and_switch_on(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session, name="Kari Nordmann")
        await make_invoice(session, customer, amount=99_900, number="INV-77")
    token = await _sign_in(client)

    # Add a wait and a webhook, move the wait up, remove the webhook: nothing saved yet.
    added = await client.post("/flows/new", data=_form(token, op="add", add_kind="wait"))
    assert added.status_code == 200 and 'name="a1_kind" value="wait"' in added.text
    moved = await client.post(
        "/flows/new",
        data=_form(token, op="up:1", action_count="2", a1_kind="wait", a1_minutes="5"),
    )
    assert moved.text.index('name="a0_kind" value="wait"') < moved.text.index(
        'name="a1_kind" value="sms"'
    )
    removed = await client.post(
        "/flows/new",
        data=_form(token, op="remove:1", action_count="2", a1_kind="webhook", a1_url="x"),
    )
    assert 'name="a1_kind"' not in removed.text

    async with sessions() as session:
        event_id = (
            await session.scalars(
                select(OutboxEvent.id).where(OutboxEvent.name == "invoice.created")
            )
        ).one()
    preview = await client.post(
        "/flows/new", data=_form(token, op="preview", preview_event=str(event_id))
    )
    assert "Hi Kari Nordmann, invoice INV-77: 999,00" in preview.text.replace("\xa0", " ")

    saved = await client.post("/flows/new", data=_form(token, op="save"))
    assert saved.status_code == 303
    flow_id = int(saved.headers["location"].rsplit("/", 1)[1])
    async with sessions() as session:
        flow = await session.get(Flow, flow_id)
        assert flow is not None and not flow.enabled
        actions = (await session.scalars(select(FlowAction.kind))).all()
    assert "sms" in actions

    await client.post(f"/flows/{flow_id}/toggle", data={"csrf": token, "enabled": "true"})
    listing = await client.get("/flows")
    assert f'data-flow-switch="{flow_id}"' in listing.text
    async with sessions() as session:
        flow = await session.get(Flow, flow_id)
        assert flow is not None and flow.enabled

    tested = await client.post(
        f"/flows/{flow_id}/test", data={"csrf": token, "event_id": str(event_id)}
    )
    assert tested.status_code == 303 and "/flows/runs/" in tested.headers["location"]
    log = await client.get(tested.headers["location"])
    assert log.status_code == 200 and "flowrun-" not in log.text  # not started: no worker here
    async with sessions() as session:
        run = (await session.scalars(select(FlowRun))).one()
        assert run.is_test
        job = (await session.scalars(select(Job).where(Job.kind == ACTION_JOB))).one()
        assert job.dedupe_key == f"flowrun-{run.id}-action-0"


async def test_switching_on_an_incomplete_flow_is_refused(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    async with sessions() as session, session.begin():
        flow = Flow(name="Tell staff", trigger="payment_request.failed", enabled=False)
        flow.actions.append(
            FlowAction(position=0, kind="email",
                       config={"to": "", "subject": "x", "text": "y", "html": ""})
        )  # fmt: skip
        session.add(flow)
        await session.flush()
        flow_id = flow.id
    token = await _sign_in(client)
    response = await client.post(
        f"/flows/{flow_id}/toggle", data={"csrf": token, "enabled": "true"}
    )
    assert response.status_code == 303
    page = await client.get("/flows")
    assert "Complete the flow before switching it on" in page.text
    async with sessions() as session:
        stored = await session.get(Flow, flow_id)
        assert stored is not None and not stored.enabled


async def test_readonly_users_see_flows_but_cannot_change_them(
    client: httpx.AsyncClient,
) -> None:
    token = await _sign_in(client, role="readonly")
    page = await client.get("/flows")
    assert page.status_code == 200 and "New flow" not in page.text
    refused = await client.post("/flows/new", data=_form(token, op="save"))
    assert refused.status_code == 403


async def test_a_flow_started_by_the_calendar_is_saved_with_its_days_and_rules(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    token = await _sign_in(client)
    new = await client.get("/flows/new")
    # Calendar triggers are offered apart from events; a new flow proposes 3 days, quiet hours.
    assert re.search(
        r'<optgroup label="A day comes">\s*<option value="schedule.invoice_due"', new.text
    )
    assert 'name="days" inputmode="numeric" size="4" value="3"' in new.text
    assert re.search(r'name="quiet_hours" value="1" checked', new.text)
    bad = await client.post(
        "/flows/new",
        data=_form(token, op="save", trigger="schedule.invoice_overdue", days="tre"),
    )
    assert bad.status_code == 422
    assert re.search(r'data-error="days"[^>]*>[^<]*whole number from 0 to 365', bad.text)
    assert 'value="tre"' in bad.text  # what was typed stays in the field

    saved = await client.post(
        "/flows/new",
        data=_form(
            token,
            op="save",
            name="Purring",
            trigger="schedule.invoice_overdue",
            days="7",
            missed="skip",
            quiet_hours="1",
        ),
    )
    assert saved.status_code == 303
    async with sessions() as session:
        flow = (await session.scalars(select(Flow).where(Flow.name == "Purring"))).one()
    assert flow.timing == {"days": 7, "missed": "skip", "quiet_hours": True, "weekends": False}
    page = await client.get(saved.headers["location"])
    forecast = re.findall(
        r"<li>([^<]*invoices? (?:has|have) (?:its|their) step that day)</li>", page.text
    )
    assert len(forecast) == 2 and all(": 0 invoices" in line for line in forecast), forecast
    listing = await client.get("/flows")
    assert re.search(r'<span data-days="7">An invoice is overdue by 7 days</span>', listing.text)


async def test_a_payment_request_action_is_set_up_checked_and_previewed(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    """How the request reaches the customer is chosen in the builder; a bad number of days is
    refused next to its field; the preview says which way the event's customer is reached."""
    async with sessions() as session, session.begin():
        customer = await make_customer(session, phone="")
        customer.email = "kari@example.no"
        await make_invoice(session, customer, amount=12_300, number="INV-78")
    token = await _sign_in(client)
    request_action = {
        "trigger": "invoice.created",
        "a0_kind": "payment_request",
        "a0_via": "default",
        "a0_send": "push",
        "a0_channel": "sms",
    }
    added = await client.post("/flows/new", data=_form(token, op="add", add_kind="wait"))
    assert added.status_code == 200
    bad = await client.post(
        "/flows/new", data=_form(token, op="save", **request_action, a0_lifetime_days="90")
    )
    assert bad.status_code == 422
    assert re.search(r'data-error="a0_lifetime_days"[^>]*>[^<]*from 1 to 60', bad.text)
    assert 'name="a0_via"' in bad.text and 'name="a0_send"' in bad.text

    async with sessions() as session:
        event_id = (
            await session.scalars(
                select(OutboxEvent.id).where(OutboxEvent.name == "invoice.created")
            )
        ).one()
    preview = await client.post(
        "/flows/new",
        data=_form(token, op="preview", preview_event=str(event_id), **request_action),
    )
    shown = preview.text.replace("\xa0", " ")
    # no mobile number: the link, by the other channel (email)
    assert "kari@example.no" in shown and "123,00" in shown and "unknown action" not in shown

    saved = await client.post(
        "/flows/new",
        data=_form(token, op="save", name="Be om betaling", **request_action, a0_lifetime_days="5"),
    )
    assert saved.status_code == 303
    async with sessions() as session:
        flow = (await session.scalars(select(Flow).where(Flow.name == "Be om betaling"))).one()
        [action] = (
            await session.scalars(select(FlowAction).where(FlowAction.flow_id == flow.id))
        ).all()
    assert action.config == {"via": "default", "send": "push", "channel": "sms", "lifetime_days": 5}


async def test_the_customer_tag_condition_is_saved_cleaned_and_shown(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    token = await _sign_in(client)
    new = await client.get("/flows/new")
    assert '<label for="tag">Customer tag</label>' in new.text
    bad = await client.post("/flows/new", data=_form(token, op="save", tag="vip!"))
    assert bad.status_code == 422
    assert re.search(r'data-error="tag"[^>]*>[^<]*only letters, digits', bad.text)
    assert 'name="tag" maxlength="100" value="vip!"' in bad.text  # as typed
    saved = await client.post("/flows/new", data=_form(token, op="save", tag=" VIP "))
    assert saved.status_code == 303
    async with sessions() as session:
        flow = (await session.scalars(select(Flow).where(Flow.name == "Receipt"))).one()
    assert flow.conditions == {"tag": "vip"}
    page = await client.get(saved.headers["location"])
    assert 'name="tag" maxlength="100" value="vip"' in page.text
