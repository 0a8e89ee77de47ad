"""Webhooks and background work act for the right organisation (issue 15): a webhook for one
business's payment changes only that business's rows and starts only its flows, and the
poller's per-request jobs act for the request's organisation. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.app import create_app
from payrequest.automations.dispatch import dispatch
from payrequest.automations.execution import ACTION_JOB
from payrequest.automations.models import Flow, FlowAction, FlowRun
from payrequest.config import load_settings
from payrequest.db.scope import ALL, scoped_to
from payrequest.events import names
from payrequest.events.models import OutboxEvent
from payrequest.inbound import jobs as inbound_jobs
from payrequest.inbound import registrations
from payrequest.inbound import service as inbound
from payrequest.inbound.models import InboundEvent
from payrequest.jobs.handlers import JobHandlers
from payrequest.jobs.models import Job
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.kit.urls import PublicUrls
from payrequest.ledger import jobs as ledger_jobs
from payrequest.ledger import manual
from payrequest.ledger.manual import NewManualPayment
from payrequest.ledger.models import Allocation
from payrequest.organisations import service as organisations
from payrequest.organisations.service import NewOrganisation
from payrequest.payment_requests.apply import CAPTURE_JOB
from payrequest.payment_requests.jobs import POLL_ONE_JOB, hand_out_polls
from payrequest.payment_requests.models import PaymentRequest, PaymentRequestEvent
from payrequest.payment_requests.repository import invoices_in_active_requests
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.providers.base import Capabilities, OneProvider
from payrequest.providers.factory import build_provider
from payrequest.providers.vipps import signature
from tests.conftest import TEST_ORGANISATION
from tests.factories import make_customer, make_invoice
from tests.staff import BASE

Sessions = async_sessionmaker[AsyncSession]
SECRET = "the-secret-of-our-registration"
URL = f"{BASE}/webhooks/vipps"
A = TEST_ORGANISATION


@dataclass(frozen=True)
class Business:
    organisation_id: int
    reference: str
    request_id: int
    flow_id: int


@pytest.fixture
async def app(database_url: str, sessions: Sessions, tmp_path: Path) -> AsyncIterator[FastAPI]:
    app = create_app(
        load_settings(database_url=database_url, var_dir=tmp_path, public_url=BASE),
        run_worker=False,
    )
    runtime = app.state.runtime
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        await registrations.add(
            session,
            provider="vipps",
            merchant_id="123456",  # the MSN the deliveries below name
            external_id="hook-1",
            url=URL,
            secret=SECRET,
            box=runtime.box,
        )
    yield app
    await runtime.close()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield http


@pytest.fixture
async def second(sessions: Sessions) -> int:
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        created = await organisations.create(
            session, NewOrganisation(name="Fjord Rør AS", slug="fjord-ror")
        )
        return created.id


async def _business(sessions: Sessions, organisation_id: int, name: str) -> Business:
    """A customer with an invoice, a payment request for it, and an enabled flow that waits
    for an authorised payment, all of `organisation_id`."""
    async with sessions(info=scoped_to(organisation_id)) as session, session.begin():
        customer = await make_customer(session, name=name)
        invoice = await make_invoice(session, customer, amount=25_000)
        request = await create_request(
            session,
            data=NewPaymentRequest(
                customer_id=customer.id, invoice_ids=[invoice.id], phone="+4791234567"
            ),
            lifetime=Lifetime(60, Capabilities()),
        )
        flow = Flow(name=f"{name} hears", trigger=names.PAYMENT_REQUEST_AUTHORIZED, enabled=True)
        flow.actions = [FlowAction(position=0, kind="wait", config={"minutes": 5})]
        session.add(flow)
        await session.flush()
        return Business(organisation_id, request.reference, request.id, flow.id)


def _signed(reference: str) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(
        {
            "msn": "123456",
            "reference": reference,
            "pspReference": f"psp-{reference}",
            "name": "AUTHORIZED",
            "amount": {"currency": "NOK", "value": 25_000},
            "timestamp": "2026-11-30T10:00:00.000Z",
            "idempotencyKey": None,
            "success": True,
        }
    ).encode()
    date = format_datetime(datetime.now(UTC), usegmt=True)
    return raw, {
        "Content-Type": "application/json",
        "x-ms-date": date,
        "x-ms-content-sha256": signature.content_hash(raw),
        "Authorization": signature.authorization(SECRET, URL, date, raw),
    }


async def test_a_webhook_for_one_business_touches_only_its_rows_and_flows(
    client: httpx.AsyncClient, sessions: Sessions, second: int
) -> None:
    a = await _business(sessions, A, "Kari")
    b = await _business(sessions, second, "Ola")

    raw, headers = _signed(b.reference)
    response = await client.post("/webhooks/vipps", content=raw, headers=headers)
    assert response.status_code == 200 and response.json() == {"status": "applied"}

    async with sessions(info=scoped_to(ALL)) as session:
        inbox = (await session.scalars(select(InboundEvent))).all()
        assert [(row.reference, row.organisation_id) for row in inbox] == [(b.reference, second)]
        statuses = dict(
            (await session.execute(select(PaymentRequest.reference, PaymentRequest.status))).all()
        )
        assert statuses[b.reference] == "authorized"
        assert statuses[a.reference] != "authorized"
        signals = (
            await session.execute(
                select(PaymentRequestEvent.payment_request_id, PaymentRequestEvent.organisation_id)
                .where(PaymentRequestEvent.source == "webhook")
                .distinct()
            )
        ).all()
        assert set(signals) == {(b.request_id, second)}
        captures = (await session.scalars(select(Job).where(Job.kind == CAPTURE_JOB))).all()
        assert [(job.payload["reference"], job.organisation_id) for job in captures] == [
            (b.reference, second)
        ]
        authorised = (
            await session.scalars(
                select(OutboxEvent).where(OutboxEvent.name == names.PAYMENT_REQUEST_AUTHORIZED)
            )
        ).all()
        assert [event.organisation_id for event in authorised] == [second]

    # The dispatcher runs for every organisation: B's event starts B's flow only.
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        assert await dispatch(session, urls=PublicUrls(BASE, signing_key="k")) > 0
    async with sessions(info=scoped_to(ALL)) as session:
        runs = (await session.scalars(select(FlowRun))).all()
        assert [(run.flow_id, run.organisation_id) for run in runs] == [(b.flow_id, second)]
        actions = (await session.scalars(select(Job).where(Job.kind == ACTION_JOB))).all()
        assert [job.organisation_id for job in actions] == [second]

    # Acting for A, nothing of B's shows.
    async with sessions(info=scoped_to(A)) as session:
        assert (await session.scalars(select(InboundEvent))).all() == []
        assert (await session.scalars(select(FlowRun))).all() == []


async def test_a_webhook_no_payment_matches_belongs_to_nobody(
    client: httpx.AsyncClient, sessions: Sessions, second: int
) -> None:
    raw, headers = _signed("pr-nobody-knows")
    response = await client.post("/webhooks/vipps", content=raw, headers=headers)
    assert response.json() == {"status": "unmatched"}
    async with sessions(info=scoped_to(ALL)) as session:
        rows = (await session.scalars(select(InboundEvent))).all()
    assert [row.status for row in rows] == ["unmatched"]
    assert rows[0].organisation_id is None  # typed int: the column is nullable for the inbox
    for organisation in (A, second):
        async with sessions(info=scoped_to(organisation)) as session:
            assert (await session.scalars(select(InboundEvent))).all() == []


async def test_the_pollers_jobs_act_for_each_requests_organisation(
    sessions: Sessions, second: int
) -> None:
    a = await _business(sessions, A, "Kari")
    b = await _business(sessions, second, "Ola")
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        for request in (await session.scalars(select(PaymentRequest))).all():
            request.next_poll_at = utcnow() - timedelta(seconds=1)
    # The periodic job runs for every organisation.
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        assert await hand_out_polls(session, limit=10) == 2
    async with sessions(info=scoped_to(ALL)) as session:
        jobs = (await session.scalars(select(Job).where(Job.kind == POLL_ONE_JOB))).all()
    assert {(job.payload["reference"], job.organisation_id) for job in jobs} == {
        (a.reference, A),
        (b.reference, second),
    }


async def test_automatic_credit_is_handed_to_each_organisation_and_applied_there(
    sessions: Sessions, second: int
) -> None:
    invoices: dict[int, int] = {}
    for organisation in (A, second):
        async with sessions(info=scoped_to(organisation)) as session, session.begin():
            customer = await make_customer(session)
            await manual.record(
                session,
                data=NewManualPayment(
                    customer_id=customer.id,
                    amount=Money(5_000, "NOK"),
                    received_on=manual.business_today(),
                    method="bank_transfer",
                ),
                in_requests=invoices_in_active_requests,
            )
            invoices[organisation] = (await make_invoice(session, customer, amount=3_000)).id
    # The periodic job runs for every organisation that applies credit by itself, and only
    # hands out.
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        assert await ledger_jobs.hand_out_credit(session) == []
        for organisation in (A, second):
            (await organisations.get(session, organisation)).auto_apply_credit = True
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        assert await ledger_jobs.hand_out_credit(session) == sorted((A, second))
        jobs = (
            await session.scalars(select(Job).where(Job.kind == ledger_jobs.AUTO_APPLY_ONE_JOB))
        ).all()
        assert sorted(job.organisation_id for job in jobs) == sorted((A, second))
    # Each organisation's job applies its own credit only.
    async with sessions(info=scoped_to(second)) as session, session.begin():
        assert (
            await ledger_jobs.apply_credit_everywhere(
                session, in_requests=invoices_in_active_requests
            )
            == 1
        )
    async with sessions(info=scoped_to(ALL)) as session:
        applied = (await session.execute(select(Allocation.invoice_id, Allocation.amount))).all()
    assert applied == [(invoices[second], 3_000)]


async def test_a_kept_event_of_nobody_is_handed_to_its_payments_organisation(
    database_url: str, sessions: Sessions, second: int, tmp_path: Path
) -> None:
    """An event kept without an organisation (its payment was not known yet) is applied by
    a job of the payment's organisation, never in the job acting for all of them."""
    b = await _business(sessions, second, "Ola")
    raw, _ = _signed(b.reference)
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        kept = InboundEvent(
            organisation_id=None,
            provider="vipps",
            dedupe_key=f"123456:{b.reference}:psp:AUTHORIZED",
            reference=b.reference,
            event_name="authorized",
            body=raw.decode(),
            headers={},
            status="failed",
        )
        session.add(kept)
        await session.flush()
        inbound_id = kept.id
    handlers = JobHandlers()
    settings = load_settings(database_url=database_url, var_dir=tmp_path)
    provider = build_provider(settings, version="test")
    inbound_jobs.install(
        handlers, providers=OneProvider(provider), sessions=sessions, batch_size=100
    )
    apply_job = handlers.spec(inbound.APPLY_JOB).handler
    try:
        async with sessions(info=scoped_to(ALL)) as session, session.begin():
            await apply_job(session, {"inbound_id": inbound_id})
        async with sessions(info=scoped_to(ALL)) as session:
            row = await session.get(InboundEvent, inbound_id)
            assert row is not None and (row.status, row.organisation_id) == ("failed", second)
            handed = (await session.scalars(select(Job).where(Job.kind == inbound.APPLY_JOB))).all()
            assert [job.organisation_id for job in handed] == [second]
            request = await session.get(PaymentRequest, b.request_id)
            assert request is not None and request.status != "authorized"
        async with sessions(info=scoped_to(second)) as session, session.begin():
            await apply_job(session, dict(handed[0].payload))
    finally:
        await provider.close()
    async with sessions(info=scoped_to(second)) as session:
        row = await session.get(InboundEvent, inbound_id)
        request = await session.get(PaymentRequest, b.request_id)
        assert row is not None and row.status == "applied"
        assert request is not None and request.status == "authorized"
