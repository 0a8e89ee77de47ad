"""Outgoing webhooks end to end (issue 17), on SQLite and PostgreSQL: outbox events of an
organisation become signed public events at its endpoints, over real HTTP to a receiver on
loopback; retries back off, an object's events arrive in order, a persistently failing
endpoint is switched off and its owners told, a delivery can be resent, one organisation's
events never reach another's endpoint, and the SSRF guard holds. Time is a fake clock handed
to the worker and the webhooks' services: nothing waits."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.db.scope import ALL, scoped_to
from payrequest.errors import Conflict, ValidationFailed
from payrequest.events import names, outbox
from payrequest.jobs.handlers import JobHandlers
from payrequest.jobs.runner import Worker
from payrequest.kit.clock import utcnow
from payrequest.kit.crypto import SecretBox
from payrequest.kit.money import Money
from payrequest.kit.urls import PublicUrls
from payrequest.ledger import manual as ledger_manual
from payrequest.ledger.manual import NewManualPayment
from payrequest.notify.email.smtp import EmailSender
from payrequest.notify.webhook.destinations import DestinationRefused
from payrequest.notify.webhook.sender import WebhookSender
from payrequest.organisations import service as organisations
from payrequest.organisations.service import NewOrganisation
from payrequest.payment_requests.repository import invoices_in_active_requests
from payrequest.public.event import API_VERSION
from payrequest.users import service as users
from payrequest.webhooks import endpoints, manual, read, retention
from payrequest.webhooks import jobs as webhook_jobs
from payrequest.webhooks.endpoints import EndpointChange, Rules, WithSecret
from payrequest.webhooks.fanout import fan_out
from payrequest.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from payrequest.webhooks.services import WebhookServices
from tests.conftest import TEST_ORGANISATION
from tests.factories import make_customer, make_invoice
from tests.integration.webhook_receiver import receiving
from tests.mailbox import Mailbox

Sessions = async_sessionmaker[AsyncSession]
LOOPBACK = Rules(allow=("127.0.0.1",), https_only=False)


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def to(self, moment: datetime) -> None:
        self.now = max(self.now, moment)


@dataclass
class Hooks:
    sessions: Sessions
    clock: Clock
    services: WebhookServices
    worker: Worker
    handlers: JobHandlers

    async def endpoint(
        self, url: str, types: list[str], *, organisation: int = TEST_ORGANISATION
    ) -> WithSecret:
        async with self.sessions(info=scoped_to(organisation)) as session, session.begin():
            return await endpoints.create(
                session,
                EndpointChange(url=url, event_types=types),
                rules=LOOPBACK,
                box=self.services.box,
            )

    async def announce(
        self, name: str, kind: str, row_id: int, *, organisation: int = TEST_ORGANISATION
    ) -> int:
        async with self.sessions(info=scoped_to(organisation)) as session, session.begin():
            event = await outbox.record(
                session, name=name, aggregate_type=kind, aggregate_id=row_id
            )
            await session.flush()
            return event.id

    async def run(self) -> int:
        """Fan out what the outbox has, then run every job due now."""
        async with self.sessions(info=scoped_to(ALL)) as session, session.begin():
            await fan_out(session, now=self.clock())
        return await self.worker.run_once()

    async def deliveries(self, organisation: int = TEST_ORGANISATION) -> list[WebhookDelivery]:
        async with self.sessions(info=scoped_to(organisation)) as session:
            found = await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
            return list(found.all())

    async def log(self, delivery_id: int) -> list[WebhookAttempt]:
        async with self.sessions(info=scoped_to(ALL)) as session:
            found = await read.attempts(session, [delivery_id])
            return list(reversed(found[delivery_id]))  # oldest first

    async def until_settled(self, limit: int = 60) -> None:
        """Run, then move the clock to the next planned try, until nothing is pending."""
        for _ in range(limit):
            await self.run()
            waiting = [d for d in await self.deliveries_everywhere() if d.status == "pending"]
            if not waiting:
                return
            planned = [d.next_attempt_at for d in waiting if d.next_attempt_at]
            later = [moment for moment in planned if moment > self.clock()]
            self.clock.to(min(later) if later else self.clock() + timedelta(minutes=1))
        raise AssertionError("deliveries still pending")

    async def deliveries_everywhere(self) -> list[WebhookDelivery]:
        return await self.deliveries_of(ALL)

    async def deliveries_of(self, scope: Any) -> list[WebhookDelivery]:
        async with self.sessions(info=scoped_to(scope)) as session:
            found = await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
            return list(found.all())


def build_hooks(sessions: Sessions, email: EmailSender | None = None) -> Hooks:
    clock = Clock()
    services = WebhookServices(
        sessions,
        WebhookSender(allow=["127.0.0.1"]),
        SecretBox("x" * 32),
        PublicUrls("https://pay.example.no"),
        email,
        LOOPBACK,
        clock,
    )
    handlers = JobHandlers()
    webhook_jobs.install(handlers, services)
    worker = Worker(sessions, handlers, clock=clock, lease=timedelta(seconds=60))
    return Hooks(sessions, clock, services, worker, handlers)


@pytest.fixture
async def hooks(sessions: Sessions) -> AsyncIterator[Hooks]:
    built = build_hooks(sessions)
    yield built
    await built.services.sender.close()


async def an_invoice(sessions: Sessions, organisation: int = TEST_ORGANISATION) -> int:
    async with sessions(info=scoped_to(organisation)) as session, session.begin():
        customer = await make_customer(session)
        return (await make_invoice(session, customer, amount=125_000)).id


# --- delivered, signed, the same bytes on every try ------------------------------------------


async def test_an_event_reaches_the_endpoint_signed_with_the_public_object(
    hooks: Hooks, sessions: Sessions
) -> None:
    invoice = await an_invoice(sessions)
    async with receiving() as receiver:
        made = await hooks.endpoint(receiver.url(), ["invoice.paid"])
        event_id = await hooks.announce(names.INVOICE_PAID, "invoice", invoice)
        await hooks.announce(names.INVOICE_UPDATED, "invoice", invoice)  # not published
        await hooks.run()
    [got] = receiver.received
    body = got.verified(made.secret)  # the standardwebhooks reference verifier
    assert got.headers["webhook-id"] == f"evt_{event_id}" == body["id"]
    assert body["type"] == "invoice.paid" and body["api_version"] == API_VERSION
    assert body["object"] == "event"
    obj: dict[str, Any] = body["data"]["object"]  # type: ignore[index]
    assert obj["id"] == f"inv_{invoice}" and obj["object"] == "invoice"
    assert obj["total"] == 125_000 and obj["currency"] == "NOK"  # minor units, ISO currency
    [delivery] = await hooks.deliveries()
    assert delivery.status == "delivered" and delivery.attempts == 1
    [lane] = hooks.handlers.lanes  # the tries have worker slots of their own
    assert lane.kinds == ("webhooks.deliver",)
    [attempt] = await hooks.log(delivery.id)
    assert attempt.status_code == 200 and attempt.response_body == "answer 1: 200"
    assert attempt.error is None and attempt.duration_ms >= 0


async def test_a_payment_in_two_parts_tells_partially_paid_then_paid(
    hooks: Hooks, sessions: Sessions
) -> None:
    """Through the ledger: a manual payment of part of an invoice, then of the rest."""
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoice = await make_invoice(session, customer, amount=100_000)
        invoice_id, customer_id = invoice.id, customer.id

    async def pay(amount: int) -> None:
        async with sessions() as session, session.begin():
            await ledger_manual.record(
                session,
                data=NewManualPayment(
                    customer_id=customer_id,
                    amount=Money(amount, "NOK"),
                    received_on=ledger_manual.business_today(),
                    method="bank_transfer",
                    invoice_ids=(invoice_id,),
                ),
                in_requests=invoices_in_active_requests,
            )

    async with receiving() as receiver:
        made = await hooks.endpoint(receiver.url(), ["invoice.paid", "invoice.partially_paid"])
        await pay(40_000)
        await hooks.run()  # published within a second of each change, as the job runs
        await pay(60_000)
        await hooks.run()
    first, second = (r.verified(made.secret) for r in receiver.received)
    assert (first["type"], second["type"]) == ("invoice.partially_paid", "invoice.paid")
    partly: dict[str, Any] = first["data"]["object"]  # type: ignore[index]
    paid: dict[str, Any] = second["data"]["object"]  # type: ignore[index]
    # each as it was when published: the first after the first payment
    assert partly["status"] == "partially_paid" and partly["open_amount"] == 60_000
    assert paid["status"] == "paid" and paid["open_amount"] == 0


async def test_a_500_is_tried_again_after_a_backoff_with_the_same_bytes_then_delivered(
    hooks: Hooks, sessions: Sessions
) -> None:
    invoice = await an_invoice(sessions)
    async with receiving(answers=[500, 503]) as receiver:
        made = await hooks.endpoint(receiver.url(), ["invoice.paid"])
        await hooks.announce(names.INVOICE_PAID, "invoice", invoice)
        await hooks.run()
        [delivery] = await hooks.deliveries()
        assert delivery.status == "pending" and delivery.attempts == 1
        assert delivery.last_status_code == 500
        assert delivery.next_attempt_at is not None
        first_wait = delivery.next_attempt_at - hooks.clock()
        assert timedelta(seconds=30) <= first_wait <= timedelta(minutes=1)
        assert await hooks.run() == 0  # not due yet: nothing is sent
        assert len(receiver.received) == 1
        hooks.clock.to(delivery.next_attempt_at)
        await hooks.run()
        [delivery] = await hooks.deliveries()
        assert delivery.attempts == 2 and delivery.status == "pending"
        assert delivery.next_attempt_at is not None
        second_wait = delivery.next_attempt_at - hooks.clock()
        assert timedelta(minutes=1) <= second_wait <= timedelta(minutes=2)  # doubled
        hooks.clock.to(delivery.next_attempt_at)
        await hooks.run()
    [delivery] = await hooks.deliveries()
    assert delivery.status == "delivered" and delivery.attempts == 3
    assert len(set(receiver.bodies())) == 1  # the same bytes every time
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    for received in receiver.received:
        received.verified(made.secret)
    log = await hooks.log(delivery.id)
    assert [a.status_code for a in log] == [500, 503, 200]
    assert "answered 500" in (log[0].error or "") and log[0].response_body == "answer 1: 500"


async def test_a_later_event_of_an_object_waits_for_the_earlier_one_others_do_not(
    hooks: Hooks, sessions: Sessions
) -> None:
    first_invoice, other_invoice = await an_invoice(sessions), await an_invoice(sessions)
    async with receiving(answers=[500]) as receiver:
        made = await hooks.endpoint(receiver.url(), ["invoice.paid", "invoice.partially_paid"])
        partly = await hooks.announce(names.INVOICE_PARTIALLY_PAID, "invoice", first_invoice)
        await hooks.run()  # the first event fails
        paid = await hooks.announce(names.INVOICE_PAID, "invoice", first_invoice)
        other = await hooks.announce(names.INVOICE_PAID, "invoice", other_invoice)
        await hooks.run()
        # the other invoice's event went; this invoice's later event waits for the earlier one
        ids = [r.headers["webhook-id"] for r in receiver.received]
        assert ids == [f"evt_{partly}", f"evt_{other}"]
        await hooks.until_settled()
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert ids == [f"evt_{partly}", f"evt_{other}", f"evt_{partly}", f"evt_{paid}"]
    types = [r.verified(made.secret)["type"] for r in receiver.received]
    assert types[-2:] == ["invoice.partially_paid", "invoice.paid"]


async def test_only_the_subscribed_types_of_enabled_endpoints_made_before_the_event(
    hooks: Hooks, sessions: Sessions
) -> None:
    invoice = await an_invoice(sessions)
    async with receiving() as paid_only, receiving() as switched_off, receiving() as late:
        await hooks.endpoint(paid_only.url(), ["invoice.paid"])
        off = await hooks.endpoint(switched_off.url(), ["invoice.paid"])
        async with sessions() as session, session.begin():
            await endpoints.change(
                session, off.endpoint.id, EndpointChange(enabled=False), rules=LOOPBACK
            )
        await hooks.announce(names.INVOICE_PARTIALLY_PAID, "invoice", invoice)
        await hooks.announce(names.INVOICE_PAID, "invoice", invoice)
        await hooks.endpoint(late.url(), ["invoice.paid"])  # made after the events
        await hooks.run()
    assert len(paid_only.received) == 1
    assert switched_off.received == [] and late.received == []


async def test_an_event_that_cannot_be_published_does_not_hold_back_the_next(
    hooks: Hooks, sessions: Sessions
) -> None:
    first, second = await an_invoice(sessions), await an_invoice(sessions)
    async with receiving() as receiver:
        await hooks.endpoint(receiver.url(), ["invoice.paid"])
        stuck = await hooks.announce(names.INVOICE_PAID, "invoice", first)
        async with sessions() as session, session.begin():  # a defect: its id is taken
            session.add(
                WebhookEvent(
                    public_id=f"evt_{stuck}",
                    type="invoice.paid",
                    object_type="invoice",
                    object_id="inv_0",
                    body="{}",
                )
            )
        following = await hooks.announce(names.INVOICE_PAID, "invoice", second)
        await hooks.run()
    assert [r.headers["webhook-id"] for r in receiver.received] == [f"evt_{following}"]


# --- persistent failure: given up, switched off, the owners told ----------------------------


async def test_three_days_of_failures_give_up_switch_off_and_email_the_owners(
    sessions: Sessions, mailbox_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = mailbox_server
    mailbox.received.clear()
    email = EmailSender(host="127.0.0.1", port=port, sender="payrequest@example.no", starttls=False)
    hooks = build_hooks(sessions, email)
    async with sessions() as session, session.begin():
        await users.create_user(
            session, email="eier@example.no", password="x" * 12, role="owner", locale="nb"
        )
        await users.create_user(
            session, email="ejer@example.no", password="x" * 12, role="owner", locale="da"
        )
        await users.create_user(
            session, email="staff@example.no", password="x" * 12, role="staff", locale="en"
        )
    invoice = await an_invoice(sessions)
    try:
        async with receiving(otherwise=500) as receiver:
            made = await hooks.endpoint(receiver.url(), ["invoice.paid"])
            await hooks.announce(names.INVOICE_PAID, "invoice", invoice)
            start = hooks.clock()
            await hooks.until_settled()
            tries = len(receiver.received)
    finally:
        await hooks.services.sender.close()
    [delivery] = await hooks.deliveries()
    assert delivery.status == "failed" and delivery.attempts == tries
    assert 10 <= tries <= 40
    assert delivery.last_attempt_at is not None
    assert timedelta(days=2) < delivery.last_attempt_at - start <= timedelta(days=3)
    async with sessions() as session:
        endpoint = await endpoints.get(session, made.endpoint.id)
        assert not endpoint.enabled and endpoint.disabled_reason == "failing"
        assert endpoint.consecutive_failures == tries
    # the owners' email, each in their language, by the job the switching off queued
    await hooks.worker.run_once()
    by_address = {str(m["To"]): m for m in mailbox.received}
    assert set(by_address) == {"eier@example.no", "ejer@example.no"}
    assert by_address["eier@example.no"]["Subject"] == "Et webhook-endepunkt ble slått av"
    assert by_address["ejer@example.no"]["Subject"] == "Et webhook-endpoint blev slået fra"
    text = str(by_address["eier@example.no"].get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert receiver.url() in text and "https://pay.example.no/settings/webhook-endpoints" in text
    assert "answered 500" in text


async def test_an_endpoint_that_works_again_in_between_is_not_switched_off(
    hooks: Hooks, sessions: Sessions
) -> None:
    first, second = await an_invoice(sessions), await an_invoice(sessions)
    async with receiving(otherwise=500) as receiver:
        await hooks.endpoint(receiver.url(), ["invoice.paid"])
        await hooks.announce(names.INVOICE_PAID, "invoice", first)
        await hooks.run()
        [failing] = await hooks.deliveries()
        assert failing.next_attempt_at is not None
        hooks.clock.to(failing.next_attempt_at + timedelta(hours=30))
        receiver.decide = lambda got: 200 if f"inv_{second}".encode() in got.body else 500
        await hooks.announce(names.INVOICE_PAID, "invoice", second)
        await hooks.run()
        await hooks.until_settled()
    gave_up, delivered = await hooks.deliveries()
    assert gave_up.status == "failed" and delivered.status == "delivered"
    async with sessions() as session:
        [endpoint] = await endpoints.list_endpoints(session)
    assert endpoint.enabled  # it accepted a delivery within the three days


async def test_the_log_is_kept_thirty_days_and_waiting_deliveries_stay(
    hooks: Hooks, sessions: Sessions
) -> None:
    first, second = await an_invoice(sessions), await an_invoice(sessions)
    async with receiving(answers=[200, 500]) as receiver:
        await hooks.endpoint(receiver.url(), ["invoice.paid"])
        await hooks.announce(names.INVOICE_PAID, "invoice", first)
        await hooks.run()
        await hooks.announce(names.INVOICE_PAID, "invoice", second)
        await hooks.run()
    delivered, waiting = await hooks.deliveries()
    assert (delivered.status, waiting.status) == ("delivered", "pending")
    for days, left in ((29, 2), (31, 1)):
        async with sessions(info=scoped_to(ALL)) as session, session.begin():
            await retention.purge(session, now=hooks.clock() + timedelta(days=days))
        assert len(await hooks.deliveries()) == left
    assert [d.id for d in await hooks.deliveries()] == [waiting.id]
    assert await hooks.log(delivered.id) == [] and len(await hooks.log(waiting.id)) == 1
    async with sessions() as session:
        assert len(list(await session.scalars(select(WebhookEvent)))) == 1


# --- by hand: resend, test event -----------------------------------------------------------


async def test_resending_sends_the_same_event_again_and_logs_it(
    hooks: Hooks, sessions: Sessions
) -> None:
    invoice = await an_invoice(sessions)
    async with receiving(answers=[410]) as receiver:
        made = await hooks.endpoint(receiver.url(), ["invoice.paid"])
        await hooks.announce(names.INVOICE_PAID, "invoice", invoice)
        await hooks.run()
        [delivery] = await hooks.deliveries()
        assert delivery.status == "pending" and delivery.last_status_code == 410
        tried = await manual.resend(
            hooks.services, endpoint_id=made.endpoint.id, delivery_id=delivery.id
        )
        assert tried.outcome.ok and tried.outcome.status_code == 200
        again = await manual.resend(
            hooks.services, endpoint_id=made.endpoint.id, delivery_id=delivery.id
        )
        assert again.outcome.ok
        hooks.clock.to(hooks.clock() + timedelta(days=1))
        await hooks.run()  # the planned try finds the delivery delivered: nothing is sent
    assert len(receiver.received) == 3 and len(set(receiver.bodies())) == 1
    [delivery] = await hooks.deliveries()
    assert delivery.status == "delivered" and delivery.attempts == 1
    log = await hooks.log(delivery.id)
    assert [(a.status_code, a.manual) for a in log] == [(410, False), (200, True), (200, True)]
    with pytest.raises(Exception, match="No such webhook delivery"):
        await manual.resend(hooks.services, endpoint_id=made.endpoint.id, delivery_id=999_999)


async def test_a_test_event_is_tried_once_at_once(hooks: Hooks) -> None:
    async with receiving(answers=[200, 500]) as receiver:
        made = await hooks.endpoint(receiver.url(), ["invoice.paid"])
        ok = await manual.send_test(hooks.services, endpoint_id=made.endpoint.id)
        failed = await manual.send_test(hooks.services, endpoint_id=made.endpoint.id)
        await hooks.run()
    assert ok.outcome.ok and not failed.outcome.ok and len(receiver.received) == 2
    body = receiver.received[0].verified(made.secret)
    assert body["type"] == "webhook_endpoint.test"
    assert body["data"]["object"]["id"] == f"we_{made.endpoint.id}"  # type: ignore[index]
    assert "secret" not in body["data"]["object"]  # type: ignore[index]
    statuses = [d.status for d in await hooks.deliveries()]
    assert statuses == ["delivered", "failed"]
    async with hooks.sessions() as session, session.begin():
        await endpoints.change(
            session, made.endpoint.id, EndpointChange(enabled=False), rules=LOOPBACK
        )
    with pytest.raises(Conflict):
        await manual.send_test(hooks.services, endpoint_id=made.endpoint.id)


# --- secrets ---------------------------------------------------------------------------------


async def test_a_rotated_secret_signs_beside_the_new_one_for_a_day(
    hooks: Hooks, sessions: Sessions
) -> None:
    invoice = await an_invoice(sessions)
    async with receiving() as receiver:
        made = await hooks.endpoint(receiver.url(), ["invoice.paid", "invoice.partially_paid"])
        async with sessions() as session, session.begin():
            rotated = await endpoints.rotate(session, made.endpoint.id, box=hooks.services.box)
        assert rotated.secret != made.secret
        await hooks.announce(names.INVOICE_PARTIALLY_PAID, "invoice", invoice)
        await hooks.run()
        hooks.clock.to(hooks.clock() + timedelta(hours=24, seconds=1))
        await hooks.announce(names.INVOICE_PAID, "invoice", invoice)
        await hooks.run()
    during, after = receiver.received
    during.verified(made.secret)
    during.verified(rotated.secret)
    after.verified(rotated.secret)
    with pytest.raises(Exception, match="No matching signature"):
        after.verified(made.secret)


# --- isolation, SSRF -------------------------------------------------------------------------


async def test_an_organisations_endpoint_never_gets_anothers_events(
    hooks: Hooks, sessions: Sessions
) -> None:
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        other = (
            await organisations.create(
                session, NewOrganisation(name="Dansk Rør ApS", slug="dansk-ror", market="DK")
            )
        ).id
    ours, theirs = await an_invoice(sessions), await an_invoice(sessions, other)
    async with receiving() as our_receiver, receiving() as their_receiver:
        mine = await hooks.endpoint(our_receiver.url(), ["invoice.paid"])
        await hooks.endpoint(their_receiver.url(), ["invoice.paid"], organisation=other)
        await hooks.announce(names.INVOICE_PAID, "invoice", theirs, organisation=other)
        ours_event = await hooks.announce(names.INVOICE_PAID, "invoice", ours)
        # B's invoice id announced as A's event: A's endpoint gets nothing of B's
        await hooks.announce(names.INVOICE_PAID, "invoice", theirs)
        await hooks.run()
    [got] = our_receiver.received
    assert got.verified(mine.secret)["id"] == f"evt_{ours_event}"
    [theirs_got] = their_receiver.received
    assert json.loads(theirs_got.body)["data"]["object"]["id"] == f"inv_{theirs}"
    assert len(await hooks.deliveries()) == 1  # A reads only its own
    async with sessions() as session:
        assert (
            await read.deliveries(session, (await hooks.deliveries_of(other))[0].endpoint_id) == []
        )


async def test_the_ssrf_guard_refuses_loopback_and_plain_http_where_money_is_real(
    hooks: Hooks, sessions: Sessions
) -> None:
    async with sessions() as session, session.begin():
        with pytest.raises(DestinationRefused):
            await endpoints.create(
                session,
                EndpointChange(url="http://127.0.0.1:9/hook", event_types=["invoice.paid"]),
                rules=Rules(https_only=False),
                box=hooks.services.box,
            )
        with pytest.raises(ValidationFailed, match="https://"):
            await endpoints.create(
                session,
                EndpointChange(url="http://hooks.example.com/", event_types=["invoice.paid"]),
                rules=Rules(),
                box=hooks.services.box,
            )
        with pytest.raises(ValidationFailed, match="Unknown event type"):
            await endpoints.create(
                session,
                EndpointChange(url="https://93.184.215.14/", event_types=["invoice.deleted"]),
                rules=Rules(),
                box=hooks.services.box,
            )
    # saved while loopback was allowed; the sender (as deployed) allows nothing: each try
    # is refused before any connection, and logged
    invoice = await an_invoice(sessions)
    strict = build_hooks(sessions)
    await strict.services.sender.close()
    strict.services.sender = WebhookSender()
    async with receiving() as receiver:
        await strict.endpoint(receiver.url(), ["invoice.paid"])
        await strict.announce(names.INVOICE_PAID, "invoice", invoice)
        await strict.run()
    await strict.services.sender.close()
    assert receiver.received == []
    [delivery] = await strict.deliveries()
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert "loopback" in (delivery.last_error or "")
