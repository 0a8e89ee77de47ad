"""Only owners change flows (issue 13, item 4): a flow sends SMS, emails and webhooks to anyone
in the business's name, so staff and read-only users may look at flows and their run logs but
not create, edit, switch on, test or retry them — the page offers them no such buttons and the
server refuses the posts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.automations.models import ActionRun, Flow, FlowAction, FlowRun
from payrequest.events.models import OutboxEvent
from tests.factories import make_customer, make_invoice
from tests.staff import app_client, create_staff, csrf_of, sign_in

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def client(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    await create_staff(sessions)
    async with app_client(database_url, tmp_path, run_worker=False) as http:
        yield http


async def _flow_with_failed_run(sessions: Sessions, position: int = 1) -> tuple[int, int, int]:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        await make_invoice(session, customer, amount=10_000, number="INV-1")
        event = (
            await session.scalars(select(OutboxEvent).where(OutboxEvent.name == "invoice.created"))
        ).one()
        flow = Flow(name="Receipt", trigger="invoice.created", enabled=False)
        config = {"to": "customer", "text": "Hi {{ customer_name }}"}
        flow.actions.append(FlowAction(position=0, kind="sms", config=config))
        session.add(flow)
        await session.flush()
        run = FlowRun(
            flow_id=flow.id, outbox_event_id=event.id, is_test=True,
            event_name="invoice.created", status="failed",
            actions=[{"kind": "wait", "config": {"minutes": 1}}, {"kind": "sms", "config": config}],
        )  # fmt: skip
        session.add(run)
        await session.flush()
        session.add(
            ActionRun(
                flow_run_id=run.id,
                position=position,
                kind="sms",
                status="failed",
                attempts=1,
                idempotency_key=f"flowrun-{run.id}-action-1",
                last_error="x",
            )
        )
        return flow.id, run.id, event.id


def _form(token: str) -> dict[str, str]:
    return {
        "csrf": token,
        "op": "save",
        "name": "Changed",
        "trigger": "invoice.created",
        "action_count": "1",
        "a0_kind": "sms",
        "a0_recipient": "customer",
        "a0_text": "Hello {{ customer_name }}",
    }


@pytest.mark.parametrize("role", ["staff", "readonly"])
async def test_staff_and_readonly_users_see_flows_but_may_not_change_them(
    client: httpx.AsyncClient, sessions: Sessions, role: str
) -> None:
    flow_id, run_id, event_id = await _flow_with_failed_run(sessions)
    await sign_in(client, role)
    listing = await client.get("/flows")
    assert listing.status_code == 200 and "Receipt" in listing.text
    assert "/flows/new" not in listing.text and "data-flow-switch" not in listing.text
    page = await client.get(f"/flows/{flow_id}")
    assert page.status_code == 200 and 'value="save"' not in page.text
    log = await client.get(f"/flows/runs/{run_id}")
    assert log.status_code == 200 and "/retry" not in log.text
    token = csrf_of(page.text)

    posts = {
        "/flows/new": _form(token),
        f"/flows/{flow_id}": _form(token),
        f"/flows/{flow_id}/toggle": {"csrf": token, "enabled": "true"},
        f"/flows/{flow_id}/test": {"csrf": token, "event_id": str(event_id)},
        f"/flows/runs/{run_id}/actions/1/retry": {"csrf": token},
    }
    for url, data in posts.items():
        refused = await client.post(url, data=data)
        assert refused.status_code == 403, url
    async with sessions() as session:
        flow = await session.get(Flow, flow_id)
        assert flow is not None and flow.name == "Receipt" and not flow.enabled
        assert (await session.scalars(select(FlowRun.id))).all() == [run_id]
        statuses = (await session.scalars(select(ActionRun.status))).all()
        assert statuses == ["failed"]  # not queued again


async def test_owners_change_flows(client: httpx.AsyncClient, sessions: Sessions) -> None:
    flow_id, _, _ = await _flow_with_failed_run(sessions)
    await sign_in(client, "owner")
    page = await client.get(f"/flows/{flow_id}")
    assert 'value="save"' in page.text
    saved = await client.post(f"/flows/{flow_id}", data=_form(csrf_of(page.text)))
    assert saved.status_code == 303
    async with sessions() as session:
        flow = await session.get(Flow, flow_id)
        assert flow is not None and flow.name == "Changed"


async def test_owners_retry_a_run_s_first_action(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    """Position 0 is a place in the run, not an id: the input checks let it through."""
    _, run_id, _ = await _flow_with_failed_run(sessions, position=0)
    await sign_in(client, "owner")
    log = await client.get(f"/flows/runs/{run_id}")
    assert f"/flows/runs/{run_id}/actions/0/retry" in log.text
    retried = await client.post(
        f"/flows/runs/{run_id}/actions/0/retry", data={"csrf": csrf_of(log.text)}
    )
    assert retried.status_code == 303
    async with sessions() as session:
        statuses = (await session.scalars(select(ActionRun.status))).all()
        assert statuses == ["retrying"]
