"""Automations against the live server: a paid request runs the enabled flows — an SMS lands in
the emulator's phone inbox, an email in a real SMTP server (aiosmtpd), a signed webhook at a
local receiver — and a worker that dies between the gateway call and "done" sends nothing twice.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import importlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payrequest.automations import service
from payrequest.automations.execution import Services, idempotency_key, perform
from payrequest.automations.models import ActionRun, FlowRun
from payrequest.config import secret_key
from payrequest.events.models import OutboxEvent
from payrequest.kit.crypto import SecretBox
from payrequest.kit.urls import PublicUrls
from payrequest.notify.email.smtp import EmailSender, message_id_for
from payrequest.notify.sms.sandbox import SandboxSms
from payrequest.notify.webhook.sender import WebhookSender
from payrequest.providers.vipps.provider import VippsProvider
from tests.factories import make_customer, make_invoice
from tests.integration.notify_helpers import serve
from tests.lifecycle.conftest import SANDBOX, Emulator, LiveServer, send_request, wait_for_status
from tests.mailbox import Mailbox

pytestmark = pytest.mark.usefixtures("webhook_ready")
Sessions = async_sessionmaker[AsyncSession]
MSISDN = "4791234567"
STAFF = "staff@example.no"


@dataclass
class Receiver:
    """A webhook receiver that deduplicates on webhook-id, as Standard Webhooks asks."""

    url: str = ""
    deliveries: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    @property
    def ids(self) -> set[str]:
        return {headers["webhook-id"] for headers, _ in self.deliveries}


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[Receiver]:
    receiver = Receiver()

    async def hook(request: Request) -> Response:
        receiver.deliveries.append((dict(request.headers), await request.body()))
        return Response("thanks", status_code=200)

    with serve(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as base:
        receiver.url = f"{base}/hook"
        yield receiver


@pytest.fixture
def receiver(receiver_server: Receiver) -> Receiver:
    receiver_server.deliveries.clear()
    return receiver_server


@pytest.fixture
def live_overrides(mailbox_server: tuple[Mailbox, int]) -> dict[str, Any]:
    return {
        "smtp": {
            "host": "127.0.0.1",
            "port": mailbox_server[1],
            "starttls": False,
            "sender": "Shop AS <shop@example.no>",
        },
        "automations": {"webhook_allow": ["127.0.0.1"]},
    }


def box_of(live: LiveServer) -> SecretBox:
    return SecretBox(secret_key(live.settings))


async def make_flow(
    sessions: Sessions,
    live: LiveServer,
    *,
    trigger: str,
    actions: list[dict[str, Any]],
    enabled: bool = True,
) -> int:
    async with sessions() as session, session.begin():
        flow = await service.save(
            session,
            draft=service.Draft(name="Test flow", trigger=trigger, actions=actions),
            box=box_of(live),
            allow=["127.0.0.1"],
        )
        flow.enabled = enabled
        return flow.id


async def pay(
    sessions: Sessions, provider: VippsProvider, emulator: Emulator, *, locale: str = "nb"
) -> str:
    async with sessions() as session, session.begin():
        customer = await make_customer(session, name="Ola Nordmann")
        customer.email = "ola@example.no"
        customer.locale = locale
        invoice = await make_invoice(session, customer, amount=123_450, number="10023")
        customer_id, invoice_id = customer.id, invoice.id
    reference = await send_request(
        sessions, provider, customer_id=customer_id, invoice_ids=[invoice_id]
    )
    await emulator.approve(reference)
    await wait_for_status(sessions, reference, "paid")
    return reference


async def eventually(check: Any, *, what: str, within: float = 15.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def inbox(live: LiveServer) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(cookies=live.emulator_cookies) as http:
        response = await http.get(f"{live.url}{SANDBOX}/phone/{MSISDN}/sms")
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()
    return messages


async def runs_of(sessions: Sessions, flow_id: int) -> list[FlowRun]:
    async with sessions() as session:
        stmt = select(FlowRun).where(FlowRun.flow_id == flow_id).order_by(FlowRun.id)
        return list((await session.scalars(stmt)).all())


async def finished_run(sessions: Sessions, flow_id: int) -> FlowRun:
    async def done() -> FlowRun | None:
        runs = await runs_of(sessions, flow_id)
        return runs[0] if runs and runs[0].status != "running" else None

    run: FlowRun = await eventually(done, what="the flow run to finish")
    assert run.status == "done", run.error
    return run


SMS = {
    "kind": "sms",
    "config": {
        "to": "customer",
        "text": "Thank you, {{ customer_name }}! "
        "We received {{ amount }} for {{ invoice_numbers }}.",
    },
}


async def test_paid_request_sends_the_sms_receipt_to_the_phone_inbox(
    sessions: Sessions, live: LiveServer, provider: VippsProvider, emulator: Emulator
) -> None:
    flow_id = await make_flow(sessions, live, trigger="payment_request.paid", actions=[SMS])
    await pay(sessions, provider, emulator)
    run = await finished_run(sessions, flow_id)

    messages = await eventually(lambda: _texts(live, "Thank you"), what="the SMS receipt")
    assert messages == ["Thank you, Ola Nordmann! We received 1\u00a0234,50\u00a0kr for 10023."]
    async with sessions() as session:
        [action] = (await session.scalars(select(ActionRun))).all()
    assert (action.status, action.attempts) == ("done", 1)
    assert action.idempotency_key == idempotency_key(run.id, 0)
    assert len(await runs_of(sessions, flow_id)) == 1  # once per (event, flow)


async def _texts(live: LiveServer, needle: str) -> list[str]:
    return [m["text"] for m in await inbox(live) if needle in m["text"]]


async def test_the_ready_made_receipt_reaches_each_customer_in_their_language(
    sessions: Sessions, live: LiveServer, provider: VippsProvider, emulator: Emulator
) -> None:
    """The SMS receipt as migration 0008 leaves it: a Danish customer reads Danish."""
    flow_texts = importlib.import_module("payrequest.migrations.versions.20261130_flow_texts")
    (name, trigger, kind), config = next(iter(flow_texts.AS_INSERTED.items()))
    receipt = {"kind": kind, "config": flow_texts.with_variants(name, config)}
    flow_id = await make_flow(sessions, live, trigger=trigger, actions=[receipt])
    await pay(sessions, provider, emulator, locale="da")
    await finished_run(sessions, flow_id)

    messages = await eventually(lambda: _texts(live, "Kvittering"), what="the Danish receipt")
    assert messages[0].startswith("Tak, Ola Nordmann! Vi har modtaget 1.234,50")
    assert "for faktura 10023. Kvittering: " in messages[0]
    async with sessions() as session:
        [action] = (await session.scalars(select(ActionRun))).all()
    assert action.rendered is not None and action.rendered["language"] == "da"


async def test_email_flow_delivers_to_a_real_smtp_server(
    sessions: Sessions,
    live: LiveServer,
    provider: VippsProvider,
    emulator: Emulator,
    mailbox: Mailbox,
) -> None:
    email = {
        "kind": "email",
        "config": {
            "to": STAFF,
            "subject": "Paid: {{ reference }}",
            "text": "{{ customer_name }} paid {{ amount }}.",
            "html": "<p>{{ customer_name }} paid <b>{{ amount }}</b>.</p>",
        },
    }
    flow_id = await make_flow(sessions, live, trigger="payment_request.paid", actions=[email])
    reference = await pay(sessions, provider, emulator)
    run = await finished_run(sessions, flow_id)

    await eventually(lambda: _some(mailbox.received), what="the email")
    [message] = mailbox.received
    assert message["To"] == STAFF
    assert message["Subject"] == f"Paid: {reference}"
    assert message["Message-ID"] == message_id_for(idempotency_key(run.id, 0), "example.no")
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert "Ola Nordmann paid 1\u00a0234,50\u00a0kr." in text.get_content()
    assert "<b>1\u00a0234,50\u00a0kr</b>" in html.get_content()


async def _some(items: list[Any]) -> bool:
    return bool(items)


def independent_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


async def test_webhook_action_reaches_the_receiver_with_a_verifiable_signature(
    sessions: Sessions,
    live: LiveServer,
    provider: VippsProvider,
    emulator: Emulator,
    receiver: Receiver,
) -> None:
    hook = {"kind": "webhook", "config": {"url": receiver.url}}
    flow_id = await make_flow(sessions, live, trigger="payment_request.paid", actions=[hook])
    reference = await pay(sessions, provider, emulator)
    run = await finished_run(sessions, flow_id)

    [(headers, body)] = receiver.deliveries
    async with sessions() as session:
        secret = service.webhook_secret(await service.get(session, flow_id), box_of(live))
    assert secret is not None and secret.startswith("whsec_")
    assert headers["webhook-id"] == idempotency_key(run.id, 0)
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    expected = independent_signature(
        secret, headers["webhook-id"], headers["webhook-timestamp"], body
    )
    assert hmac.compare_digest(headers["webhook-signature"], expected)
    payload = json.loads(body)
    assert payload["type"] == "payment_request.paid"
    assert payload["data"]["reference"] == reference
    assert payload["data"]["amount_minor"] == "123450"


class WorkerKilled(Exception):
    """The worker died right after the gateway call returned."""


class DiesAfterSend:
    """Wraps a gateway: the call goes through, then the 'worker' dies before recording it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def send(self, **kwargs: Any) -> Any:
        await self.inner.send(**kwargs)
        raise WorkerKilled


async def test_a_worker_killed_between_send_and_done_does_not_send_twice(
    sessions: Sessions,
    live: LiveServer,
    provider: VippsProvider,
    emulator: Emulator,
    mailbox: Mailbox,
    receiver: Receiver,
) -> None:
    email = {
        "kind": "email",
        "config": {"to": STAFF, "subject": "Paid {{ reference }}", "text": "Paid.", "html": ""},
    }
    hook = {"kind": "webhook", "config": {"url": receiver.url}}
    # Disabled: the live worker leaves it alone; this test plays the worker itself.
    flow_id = await make_flow(
        sessions, live, trigger="payment_request.paid", actions=[SMS, email, hook], enabled=False
    )
    await pay(sessions, provider, emulator)
    async with sessions() as session:
        event_id = (
            await session.scalars(
                select(OutboxEvent.id).where(OutboxEvent.name == "payment_request.paid")
            )
        ).one()

    async def new_run(action: dict[str, Any]) -> int:
        """A one-action run: finishing it queues nothing the live worker could pick up."""
        async with sessions() as session, session.begin():
            run = FlowRun(
                flow_id=flow_id,
                outbox_event_id=event_id,
                is_test=True,
                event_name="payment_request.paid",
                status="running",
                actions=[action],
            )
            session.add(run)
            await session.flush()
            return run.id

    runs = [await new_run(SMS), await new_run(email), await new_run(hook)]

    sms = SandboxSms(base_url=live.url + SANDBOX)
    mail = EmailSender.from_settings(live.settings.smtp)
    webhooks = WebhookSender(allow=["127.0.0.1"])
    urls = PublicUrls(live.url, signing_key=secret_key(live.settings))
    real = Services(sessions, sms, mail, webhooks, box_of(live), urls)
    dying = Services(sessions, sms, mail, webhooks, box_of(live), urls)
    dying.sms = DiesAfterSend(sms)  # type: ignore[assignment]
    dying.email = DiesAfterSend(mail)  # type: ignore[assignment]
    dying.webhooks = DiesAfterSend(webhooks)  # type: ignore[assignment]

    async def status(which: int) -> str:
        async with sessions() as session:
            stmt = select(ActionRun.status).where(ActionRun.flow_run_id == runs[which])
            return str((await session.execute(stmt)).scalar_one())

    async def run_job(services: Services, which: int, *, commit: bool) -> None:
        async with sessions() as job_session, job_session.begin() as transaction:
            await perform(services, job_session, flow_run_id=runs[which], position=0)
            if not commit:
                await transaction.rollback()  # the job's "done" never commits

    try:
        # SMS: dies after the gateway call, before "sent" -> left `sending`; the retry resends
        # the same message with the same key and the emulator keeps one.
        with pytest.raises(WorkerKilled):
            await run_job(dying, 0, commit=True)
        assert await status(0) == "sending"
        await run_job(real, 0, commit=True)
        assert await status(0) == "done"
        assert len(await _texts(live, "Thank you")) == 1

        # Email: "sent" committed, then the job's "done" transaction fails -> the retry sees
        # `sent` and does not call the SMTP server again.
        await run_job(real, 1, commit=False)
        assert await status(1) == "sent"
        await run_job(real, 1, commit=True)
        assert await status(1) == "done"
        assert len(mailbox.received) == 1

        # Webhook: dies before "sent"; the retry delivers the same webhook-id (receivers
        # deduplicate on it), then a failed "done" and one more retry send nothing more.
        with pytest.raises(WorkerKilled):
            await run_job(dying, 2, commit=True)
        await run_job(real, 2, commit=False)
        await run_job(real, 2, commit=True)
        assert await status(2) == "done"
        assert receiver.ids == {idempotency_key(runs[2], 0)}
        assert len(receiver.deliveries) == 2  # the resend after `sending`, same id
        bodies = {body for _, body in receiver.deliveries}
        assert len(bodies) == 1  # the very same message
    finally:
        await sms.close()
        await webhooks.close()
    async with sessions() as session:
        stmt = select(FlowRun.status).where(FlowRun.id.in_(runs))
        assert set((await session.scalars(stmt)).all()) == {"done"}
