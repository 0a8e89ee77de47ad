"""A flow started by the calendar sends payment requests by itself: for each invoice whose day
came, a request for what is still open goes to the customer's phone through the organisation's
provider, started by "automation"; a customer without a mobile number, or an invoice a request
is already waiting for, gets none, and the run log says why. SQLite and PostgreSQL, the real
worker and the fake provider."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.automations import service, timing
from payrequest.automations.models import ActionRun, FlowRun
from payrequest.automations.schedule import scan, time_flows
from payrequest.commands import payment_requests as commands
from payrequest.config import load_settings
from payrequest.db.scope import ALL, scoped_to
from payrequest.events import names
from payrequest.i18n import kept, render
from payrequest.invoices.models import Invoice
from payrequest.jobs.backoff import Backoff
from payrequest.payment_requests import workflows
from payrequest.payment_requests.models import PaymentRequest, PaymentRequestInvoice
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import create_request
from payrequest.providers.base import Capabilities, UserFlow
from payrequest.providers.fake.provider import FakeProvider
from payrequest.runtime import Runtime, build_runtime
from tests.factories import make_customer, make_invoice
from tests.mailbox import Mailbox
from tests.staff import BASE

DAY = 24 * 60
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Runtime, FakeProvider]]:
    fake = FakeProvider()
    settings = load_settings(database_url=database_url, var_dir=tmp_path, public_url=BASE)
    runtime = build_runtime(settings, provider=fake)
    yield runtime, fake
    await runtime.close()


async def _invoice(sessions: Sessions, phone: str) -> int:
    async with sessions() as session, session.begin():
        customer = await make_customer(session, phone=phone)
        return (await make_invoice(session, customer, amount=75_000, due_in_days=0)).id


async def test_the_day_comes_and_the_requests_send_themselves(
    sessions: Sessions, world: tuple[Runtime, FakeProvider]
) -> None:
    runtime, fake = world
    draft = service.Draft(
        name="Forfallsdagen",
        trigger=timing.INVOICE_DUE,
        actions=[{"kind": "payment_request", "config": {}}],
        timing={"days": 0, "missed": "late", "quiet_hours": False, "weekends": True},
    )
    async with sessions() as session, session.begin():
        flow = await service.save(session, draft=draft, box=runtime.box, allow=())
        await service.set_enabled(session, flow_id=flow.id, enabled=True)
    with_phone = await _invoice(sessions, "+47 912 34 567")
    await _invoice(sessions, "")  # a customer without a mobile number
    busy = await _invoice(sessions, "+47 913 00 000")
    async with sessions() as session, session.begin():  # a request already waits for one
        invoice = await session.get_one(Invoice, busy)
        waiting = await create_request(
            session,
            data=NewPaymentRequest(
                customer_id=invoice.customer_id, invoice_ids=[busy], user_flow=UserFlow.qr
            ),
            lifetime=await runtime.lifetime(),
        )

    async with runtime.sessions(info=scoped_to(ALL)) as session:
        flows = await time_flows(session)
    assert await scan(runtime.sessions, flows, now=datetime.now(UTC)) == 3
    worker = runtime.worker()
    for _ in range(6):  # dispatch, the actions, the request's send
        await worker.run_once()

    async with sessions() as session:
        made = (
            await session.execute(
                select(PaymentRequest, PaymentRequestInvoice.invoice_id)
                .join(PaymentRequestInvoice)
                .where(PaymentRequest.origin == "automation")
            )
        ).all()
        runs = {
            run.outbox_event_id: run
            for run in (await session.scalars(select(FlowRun).where(FlowRun.flow_id == flow.id)))
        }
        actions = (await session.scalars(select(ActionRun))).all()
    [(request, invoice_id)] = made
    assert invoice_id == with_phone and request.amount == 75_000
    assert request.phone == "+4791234567" and request.user_flow == "push"
    assert request.status == "pending"  # sent by its job, like the one that was waiting
    assert fake.calls.count("create") == 2
    assert sorted(run.status for run in runs.values()) == ["done", "failed", "failed"]
    errors = sorted(run.error or "" for run in runs.values() if run.status == "failed")
    # a message id, shown translated
    assert errors[0] == "The customer has neither a mobile number nor an email address"
    busy_error = kept.loads(errors[1])  # kept with its parameters, shown in each reader's language
    assert busy_error is not None and busy_error.template.endswith(
        "already has a payment request waiting for the customer"
    )
    assert render("nb", busy_error.template, busy_error.params).startswith("Faktura ")
    [done] = [a for a in actions if a.status == "done"]
    assert done.rendered is not None and done.rendered["reference"] == request.reference
    async with sessions() as session:
        asked = (await session.scalars(select(PaymentRequestInvoice.invoice_id))).all()
    assert sorted(asked) == sorted([with_phone, busy])  # none for the one who cannot be reached
    assert waiting.reference != request.reference


async def test_a_request_that_expired_unpaid_is_sent_again_by_a_flow(
    sessions: Sessions, world: tuple[Runtime, FakeProvider]
) -> None:
    """ "Payment request expired without payment": the event trigger and the payment-request
    action, which asks for the expired request's invoices again."""
    runtime, fake = world
    draft = service.Draft(
        name="Send again",
        trigger=names.PAYMENT_REQUEST_EXPIRED,
        actions=[{"kind": "payment_request", "config": {}}],
    )
    async with sessions() as session, session.begin():
        flow = await service.save(session, draft=draft, box=runtime.box, allow=())
        await service.set_enabled(session, flow_id=flow.id, enabled=True)
    invoice_id = await _invoice(sessions, "+47 912 34 567")
    async with sessions() as session:
        invoice = await session.get_one(Invoice, invoice_id)
    first = await commands.create_and_send(
        runtime,
        NewPaymentRequest(
            customer_id=invoice.customer_id,
            invoice_ids=[invoice_id],
            phone="+47 912 34 567",
            user_flow=UserFlow.push,
        ),
    )
    fake.expire(first.reference)
    async with sessions() as session, session.begin():
        await workflows.poll(
            runtime.sessions, runtime.providers, reference=first.reference, apply_in=session
        )
    worker = runtime.worker()
    for _ in range(5):  # dispatch, the action, the new request's send
        await worker.run_once()

    async with sessions() as session:
        asked = (
            await session.execute(
                select(PaymentRequest.origin, PaymentRequest.status)
                .join(PaymentRequestInvoice)
                .where(PaymentRequestInvoice.invoice_id == invoice_id)
                .order_by(PaymentRequest.id)
            )
        ).all()
    assert [(origin, str(status)) for origin, status in asked] == [
        ("staff", "expired"),
        ("automation", "pending"),
    ]


async def test_a_customer_without_a_mobile_number_gets_the_link_by_email_once_the_provider_gave_it(
    database_url: str, sessions: Sessions, tmp_path: Path, mailbox_server: tuple[Mailbox, int]
) -> None:
    """No number to push to: a QR request, and its link (on a phone it opens the app) by email
    in the customer's language, once the provider answered with it; the action waits for it."""
    mailbox, port = mailbox_server
    mailbox.received.clear()
    fake = FakeProvider(capabilities=Capabilities(long_living=True, max_lifetime_minutes=60 * DAY))
    smtp = {"host": "127.0.0.1", "port": port, "starttls": False}
    settings = load_settings(
        database_url=database_url, var_dir=tmp_path, public_url=BASE, smtp=smtp
    )
    runtime = build_runtime(settings, provider=fake)
    try:
        draft = service.Draft(
            name="Forfallsdagen",
            trigger=timing.INVOICE_DUE,
            actions=[
                {"kind": "payment_request", "config": {"channel": "sms", "lifetime_days": "3"}}
            ],
            timing={"days": 0, "missed": "late", "quiet_hours": False, "weekends": True},
        )
        async with sessions() as session, session.begin():
            flow = await service.save(session, draft=draft, box=runtime.box, allow=())
            await service.set_enabled(session, flow_id=flow.id, enabled=True)
            customer = await make_customer(session, phone="")
            customer.email, customer.locale = "kunde@example.dk", "da"
            invoice_id = (await make_invoice(session, customer, amount=75_000, due_in_days=0)).id
        async with runtime.sessions(info=scoped_to(ALL)) as session:
            flows = await time_flows(session)
        assert await scan(runtime.sessions, flows, now=datetime.now(UTC)) == 1
        quick = Backoff(timedelta(milliseconds=20), timedelta(milliseconds=100))
        worker = runtime.worker(backoff=quick)
        for _ in range(40):  # dispatch, the action (waits for the link), the send, the action
            await worker.run_once()
            if mailbox.received:
                break
            await asyncio.sleep(0.05)

        async with sessions() as session:
            request = (await session.scalars(select(PaymentRequest))).one()
            action = (await session.scalars(select(ActionRun))).one()
            asked = (await session.scalars(select(PaymentRequestInvoice.invoice_id))).all()
        assert asked == [invoice_id] and request.origin == "automation"
        assert request.user_flow == "qr" and request.phone is None and request.redirect_url
        assert request.expires_at is not None and request.created_at is not None
        assert abs((request.expires_at - request.created_at) - timedelta(days=3)) < timedelta(
            minutes=1
        )
        assert action.status == "done" and action.attempts >= 2  # it waited for the link
        assert action.rendered is not None and action.rendered["channel"] == "email"
        [letter] = mailbox.received
        assert letter["To"] == "kunde@example.dk"
        text = mailbox.last_text()
        assert request.redirect_url in text and "Betal med" in text  # Danish, with the link
        for _ in range(3):  # nothing more goes out
            await worker.run_once()
        assert len(mailbox.received) == 1
    finally:
        await runtime.close()
