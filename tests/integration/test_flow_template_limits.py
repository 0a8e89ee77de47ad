"""A flow template cannot freeze the process that renders it (issue 13, item 4).

Three nested `range(500)` loops used to block the server for 9.6 s, `/healthz` included, and the
worker ran the same template where no timeout could interrupt it. Now the render stops past its
budget: the editor refuses the template on save within milliseconds (while `/healthz` keeps
answering), and a running flow whose template does too much fails its action at once with the
reason in the run log. Other ways to make a template work hard or grow large are refused too;
ordinary templates render as before.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.automations import templating
from payrequest.automations.context import sample_context
from payrequest.automations.execution import Services, perform
from payrequest.automations.models import ActionRun, Flow, FlowAction, FlowRun
from payrequest.errors import ValidationFailed
from payrequest.events.models import OutboxEvent
from payrequest.jobs.context import PermanentJobError
from payrequest.kit.crypto import SecretBox
from payrequest.kit.urls import PublicUrls
from payrequest.notify.sms.base import SmsReceipt
from payrequest.notify.webhook.sender import WebhookSender
from tests.factories import make_customer, make_invoice
from tests.staff import app_client, create_staff, csrf_of, sign_in

Sessions = async_sessionmaker[AsyncSession]

LOOPS = (
    "{% for a in range(500) %}{% for b in range(500) %}{% for c in range(500) %}"
    "{% endfor %}{% endfor %}{% endfor %}"
)
TOO_MUCH = "The template does too much work"


@pytest.mark.parametrize(
    "source",
    [
        LOOPS,
        "{% set l = ['a'] * 100000 %}{% for x in l %}{% for y in l %}{% endfor %}{% endfor %}",
        "{{ 'x' * 100000000 }}",
        "{{ 'x' | center(100000000) }}",
        "{{ 'x'.ljust(100000000) }}",
        "{{ '%0999999999d' | format(1) }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ 99 ** 99999 }}",
        "{{ ('x' * 100000) | join('y' * 100000) }}",
        "{{ ('x' * 100000) | replace('x', 'yyyyyyyyyy') }}",
        "{% set ns = namespace(x='ab') %}{% for i in range(60) %}{% set ns.x = ns.x ~ ns.x %}"
        "{% endfor %}",
        "{% set x = 'x' * 99999 %}{% set y %}{% for i in range(90000) %}{{ x }}{% endfor %}"
        "{% endset %}",
        "{% for i in range(100000) %}{{ i }}{% endfor %}",
    ],
)
def test_templates_that_do_too_much_are_refused_on_save_within_milliseconds(source: str) -> None:
    started = time.monotonic()
    with pytest.raises(ValidationFailed) as caught:
        templating.check(source, sample_context(), field="text")
    assert time.monotonic() - started < 0.6
    assert caught.value.template.startswith(TOO_MUCH) and caught.value.field == "text"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{% for i in invoices %}{{ i.number }};{% endfor %}", "10023;10024;"),
        ("{{ customer_name ~ '!' }} {{ '-' * 3 }} {{ '%s kr' % 5 }}", "Kari Nordmann! --- 5 kr"),
        ("{{ '{} kr'.format(123450) }} {{ '%d' | format(123450) }}", "123450 kr 123450"),
        ("{{ invoices | map(attribute='number') | join(', ') }}", "10023, 10024"),
        ("{% for i in range(3) %}{{ loop.index }}{% endfor %} {{ 2 ** 10 }}", "123 1024"),
    ],
)
def test_ordinary_templates_render_as_before(source: str, expected: str) -> None:
    assert templating.render(source, sample_context()) == expected


def test_the_rendered_message_is_bounded() -> None:
    with pytest.raises(templating.TemplateTooBig):
        templating.render("{% for i in range(2000) %}{{ 'x' * 99 }}{% endfor %}", {})
    assert len(templating.render("{{ 'x' * 99999 }}", {})) == 99_999


@pytest.fixture
async def client(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    await create_staff(sessions, roles=("owner",))
    async with app_client(database_url, tmp_path, run_worker=False) as http:
        yield http


async def test_saving_the_runaway_template_is_refused_quickly_and_healthz_keeps_answering(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    await sign_in(client, "owner")
    token = csrf_of((await client.get("/flows/new")).text)
    form = {
        "csrf": token,
        "op": "save",
        "name": "Runaway",
        "trigger": "invoice.created",
        "action_count": "1",
        "a0_kind": "sms",
        "a0_recipient": "customer",
        "a0_text": "Hi {{ customer_name }}" + LOOPS,
    }
    health: list[float] = []
    saving = True

    async def poll_healthz() -> None:
        while saving:
            asked = time.monotonic()
            answer = await client.get("/healthz")
            health.append(time.monotonic() - asked)
            assert answer.status_code == 200
            await asyncio.sleep(0.01)

    poller = asyncio.create_task(poll_healthz())
    await asyncio.sleep(0.05)
    started = time.monotonic()
    response = await client.post("/flows/new", data=form)
    took = time.monotonic() - started
    saving = False
    await poller
    assert response.status_code == 422
    assert re.search(r'data-error="a0_text"[^>]*>[^<]*' + TOO_MUCH, response.text)
    assert took < 1.0, f"the save took {took:.2f} s"
    assert health and max(health) < 0.5, f"/healthz answered in up to {max(health):.2f} s"
    async with sessions() as session:
        assert (await session.scalars(select(Flow).where(Flow.name == "Runaway"))).all() == []


class RecordingSms:
    name = "recording"

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(
        self, *, to: str, text: str, idempotency_key: str, sender: str | None = None
    ) -> SmsReceipt:
        self.sent.append(text)
        raise AssertionError("nothing may be sent")

    async def close(self) -> None:
        return None


async def test_a_running_flow_with_a_runaway_template_fails_its_action_at_once_with_the_reason(
    sessions: Sessions,
) -> None:
    """Flows saved before the limits (or written straight into the database) meet them when
    they run: the worker's render stops within the budget and the run log says why."""
    async with sessions() as session, session.begin():
        customer = await make_customer(session, name="Kari Nordmann", phone="+4791234567")
        await make_invoice(session, customer, amount=99_900, number="INV-9")
        event_id = (
            await session.scalars(
                select(OutboxEvent.id).where(OutboxEvent.name == "invoice.created")
            )
        ).one()
        action = {"kind": "sms", "config": {"to": "customer", "text": "Hi" + LOOPS}}
        flow = Flow(name="Runaway", trigger="invoice.created", enabled=True)
        flow.actions.append(FlowAction(position=0, kind="sms", config=action["config"]))
        session.add(flow)
        await session.flush()
        run = FlowRun(
            flow_id=flow.id,
            outbox_event_id=event_id,
            is_test=False,
            event_name="invoice.created",
            status="running",
            actions=[action],
        )
        session.add(run)
        await session.flush()
        run_id = run.id
    sms = RecordingSms()
    webhooks = WebhookSender()
    services = Services(
        sessions, sms, None, webhooks, SecretBox("k" * 32), PublicUrls("http://testserver")
    )
    started = time.monotonic()
    try:
        with pytest.raises(PermanentJobError):
            async with sessions() as job_session, job_session.begin():
                await perform(services, job_session, flow_run_id=run_id, position=0)
    finally:
        await webhooks.close()
    assert time.monotonic() - started < 1.0
    assert sms.sent == []
    async with sessions() as session:
        record = (await session.scalars(select(ActionRun))).one()
        stored = await session.get(FlowRun, run_id)
    assert record.status == "failed" and record.last_error is not None
    assert record.last_error.startswith(TOO_MUCH)
    assert stored is not None and stored.status == "failed"
