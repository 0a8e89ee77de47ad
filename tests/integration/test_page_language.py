"""Norwegian and Danish all the way: the staff pages (customer card, request, flows, run log,
invoices, settings, operations) and the portal pages, rendered over HTTP with the demo's
customers and invoices plus a refunded payment, the ready-made flows and their runs, a voided
invoice and a dead job, hold no English a reader would see (tests/language_check.py says what
counts)."""

from __future__ import annotations

import importlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.automations.models import ActionRun, Flow, FlowAction, FlowRun
from payrequest.customers.models import Customer
from payrequest.demo.seed import seed_demo
from payrequest.events import names
from payrequest.events.models import OutboxEvent
from payrequest.invoices.models import Invoice
from payrequest.jobs.models import Job
from payrequest.kit.clock import utcnow
from payrequest.ledger import service as ledger
from payrequest.ledger.models import Refund
from payrequest.payment_requests.models import PaymentRequest, PaymentRequestEvent
from payrequest.portal import service as portal
from payrequest.users.models import User
from tests.integration.portal_helpers import open_link
from tests.language_check import english_words
from tests.staff import app_client, create_staff, csrf_of, sign_in

flow_texts = importlib.import_module("payrequest.migrations.versions.20261130_flow_texts")
REFUSED = "The customer's bank released the reserved money; ask for a new payment."  # a msgid


@dataclass(frozen=True)
class Shown:
    """Ids of the rows whose pages are read."""

    customer: int
    request: int
    reference: str
    invoice: int
    voided: int
    flow: int
    done_run: int
    failed_run: int
    danish_customer: int
    danish_reference: str


async def _ready_made_flows(session: AsyncSession, customer: Customer, request_id: int) -> Flow:
    """The two ready-made flows as a fresh installation has them, and two runs of the first."""
    flows = []
    for (name, trigger, kind), config in flow_texts.AS_INSERTED.items():
        flow = Flow(name=name, trigger=trigger, enabled=name == flow_texts.RECEIPT, conditions={})
        flow.actions.append(
            FlowAction(position=0, kind=kind, config=flow_texts.with_variants(name, config))
        )
        session.add(flow)
        flows.append(flow)
    event = OutboxEvent(
        name=names.PAYMENT_REQUEST_PAID,
        aggregate_type="payment_request",
        aggregate_id=request_id,
        customer_id=customer.id,
        payload={},
    )
    session.add(event)
    await session.flush()
    receipt = flows[0]
    text = "Takk, Fjordbakeriet AS! Vi har mottatt 1 234,50 kr for faktura 20260001."
    for status, rendered, error in (
        ("done", {"to": "+4791834562", "text": text, "language": "nb"}, None),
        ("failed", None, "The customer has no mobile number"),
    ):
        run = FlowRun(
            flow_id=receipt.id,
            outbox_event_id=event.id,
            event_name=event.name,
            is_test=status == "failed",
            status=status,
            actions=[{"kind": "sms", "config": receipt.actions[0].config}],
            error=error,
            finished_at=utcnow(),
        )
        run.action_runs.append(
            ActionRun(
                position=0,
                kind="sms",
                status=status,
                attempts=1,
                idempotency_key=f"flowrun-test-{status}",
                rendered=rendered,
                result={"gateway": "sandbox", "message_id": "m-1"} if rendered else None,
                last_error=error,
            )
        )
        session.add(run)
    await session.flush()
    return receipt


async def _refunds_and_signals(session: AsyncSession, request: PaymentRequest) -> None:
    now = utcnow()
    for status, key in (("succeeded", "r-ok"), ("failed", "r-no")):
        session.add(
            Refund(
                payment_request_id=request.id,
                currency=request.currency,
                amount=10_000,
                credit_amount=0,
                status=status,
                idempotency_key=key,
                reason="Feil beløp",
                failure_message=REFUSED if status == "failed" else None,
                finished_at=now,
            )
        )
    for event, amount in (("captured", request.amount), ("refunded", 10_000)):
        session.add(
            PaymentRequestEvent(
                payment_request_id=request.id,
                kind="provider_signal",
                source="poll",
                provider_event=event,
                provider_ref=f"ref-{event}",
                amount=amount,
                details={},
                occurred_at=now - timedelta(minutes=1),
            )
        )


async def _data(sessions: async_sessionmaker[AsyncSession]) -> Shown:
    async with sessions() as session, session.begin():
        await seed_demo(session, today=utcnow().date())
        customers = {c.number: c for c in (await session.scalars(select(Customer))).all()}
        fjord, danish = customers["10001"], customers["10007"]
        danish.portal_access = True
        requests = {r.customer_id: r for r in (await session.scalars(select(PaymentRequest))).all()}
        for paid in requests.values():  # as written for the customer when the request is made
            paid.description = "Faktura " + paid.reference.split("-")[1]
        staff = (await session.scalars(select(User))).one()
        staff.name = "Kari Nordmann"
        request = requests[fjord.id]
        await _refunds_and_signals(session, request)
        open_invoices = (
            await session.scalars(
                select(Invoice).where(Invoice.customer_id == fjord.id).order_by(Invoice.id)
            )
        ).all()
        voided = open_invoices[-1]
        await ledger.void_invoice(session, invoice_id=voided.id)
        flow = await _ready_made_flows(session, fjord, request.id)
        runs = {r.status: r.id for r in (await session.scalars(select(FlowRun))).all()}
        session.add(
            Job(
                kind="automations.run_action",
                payload={"flow_run_id": runs["failed"], "position": 0},
                status="dead",
                attempts=12,
                max_attempts=12,
                last_error="HTTP 503 from the SMS gateway",
                run_at=utcnow(),
            )
        )
        return Shown(
            customer=fjord.id,
            request=request.id,
            reference=request.reference,
            invoice=open_invoices[0].id,
            voided=voided.id,
            flow=flow.id,
            done_run=runs["done"],
            failed_run=runs["failed"],
            danish_customer=danish.id,
            danish_reference=requests[danish.id].reference,
        )


def _staff_pages(ids: Shown) -> list[str]:
    return [
        "/customers",
        f"/customers/{ids.customer}",
        "/customers/new",
        f"/customers/{ids.customer}/edit",
        "/invoices/new",
        "/requests",
        f"/requests/{ids.request}",
        "/invoices",
        f"/invoices/{ids.invoice}",
        f"/invoices/{ids.voided}",
        "/flows",
        f"/flows/{ids.flow}",
        "/flows/new",
        f"/flows/runs/{ids.done_run}",
        f"/flows/runs/{ids.failed_run}",
        "/settings",
        "/operations",
    ]


def _problems(page: str, html: str, language: str) -> list[str]:
    assert f'<html lang="{language}">' in html, page
    references = re.findall(r"demo-\d+-paid", html)  # codes, the same in every language
    return [
        f"  {page}: {word!r} in …{context}…"
        for word, context in english_words(html, language, references).items()
    ]


@pytest.fixture
async def shown(sessions: async_sessionmaker[AsyncSession]) -> Shown:
    await create_staff(sessions, roles=("owner",), locale="nb")
    return await _data(sessions)


@pytest.fixture
async def client(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(database_url, tmp_path, run_worker=False) as http:
        yield http


@pytest.mark.parametrize("language", ["nb", "da"])
async def test_staff_pages_hold_no_english(
    client: httpx.AsyncClient, shown: Shown, language: str
) -> None:
    await sign_in(client, role="owner")
    token = csrf_of((await client.get("/customers")).text)
    await client.post("/account/language", data={"csrf": token, "language": language})
    problems: list[str] = []
    for page in _staff_pages(shown):
        response = await client.get(page)
        assert response.status_code == 200, f"{page}: {response.status_code}"
        problems += _problems(page, response.text, language)
    assert not problems, "English on the staff pages:\n" + "\n".join(problems)


async def _portal_pages(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], customer_id: int,
    reference: str,
) -> dict[str, str]:  # fmt: skip
    async with sessions() as session, session.begin():
        issued = await portal.issue_link(session, customer_id=customer_id, channel="sms")
    assert (await open_link(client, issued.token)).status_code == 303
    pages = {}
    for page in ("/portal", f"/portal/payments/{reference}", f"/portal/receipts/{reference}"):
        response = await client.get(page)
        assert response.status_code == 200, f"{page}: {response.status_code}"
        pages[page] = response.text
    return pages


async def test_portal_pages_hold_no_english(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], shown: Shown
) -> None:
    problems: list[str] = []
    for customer, reference, language in (
        (shown.customer, shown.reference, "nb"),
        (shown.danish_customer, shown.danish_reference, "da"),
    ):
        client.cookies.clear()
        for page, html in (await _portal_pages(client, sessions, customer, reference)).items():
            problems += _problems(page, html, language)
    client.cookies.clear()
    start = await client.get("/portal/start")
    problems += _problems("/portal/start", start.text, "nb")  # nobody signed in: Norwegian
    assert not problems, "English on the portal pages:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("language", "verb", "status"),
    [("nb", "Annuller faktura", "Annullert"), ("da", "Annullér faktura", "Annulleret")],
)
async def test_the_void_button_is_a_verb_and_the_status_a_participle(
    client: httpx.AsyncClient, shown: Shown, language: str, verb: str, status: str
) -> None:
    await sign_in(client, role="owner")
    token = csrf_of((await client.get("/customers")).text)
    await client.post("/account/language", data={"csrf": token, "language": language})
    open_invoice = (await client.get(f"/invoices/{shown.invoice}")).text
    voided = (await client.get(f"/invoices/{shown.voided}")).text
    assert re.search(rf"<button[^>]*data-void[^>]*>{verb}</button>", open_invoice)
    assert re.search(rf'data-invoice-status="void">{status}<', voided)
    assert "data-void" not in voided


async def test_a_portal_link_that_cannot_be_sent_says_why_in_the_staff_language(
    client: httpx.AsyncClient, shown: Shown, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        customer = await session.get(Customer, shown.customer)
        assert customer is not None
        customer.phone = None
    await sign_in(client, role="owner")
    card = f"/customers/{shown.customer}"
    token = csrf_of((await client.get(card)).text)
    sent = await client.post(f"{card}/portal-link", data={"csrf": token, "channel": "sms"})
    assert sent.status_code == 303
    page = (await client.get(card)).text
    assert "Kunden har ikke noe mobilnummer" in page
