"""Flows started by the calendar (automations.schedule): each invoice reaches a flow's step once,
however often and by how many workers the scheduler runs; a paid invoice drops out; a missed
day is sent late or skipped by the flow's rule, never for days before it was switched on;
quiet hours and weekends wait; the step's event starts its own flow only, with what is still
open. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.automations import ready_made, schedule, service, timing
from payrequest.automations.context import event_data
from payrequest.automations.dispatch import dispatch
from payrequest.automations.execution import Services, perform
from payrequest.automations.models import Flow, FlowRun, ScheduleMark, StaffNotice
from payrequest.automations.schedule import scan, time_flows
from payrequest.customers import replies
from payrequest.customers import service as customer_service
from payrequest.db.scope import ALL, scoped_to
from payrequest.events.models import OutboxEvent
from payrequest.invoices import service as invoice_service
from payrequest.invoices.models import Invoice
from payrequest.kit.crypto import SecretBox
from payrequest.kit.money import Money
from payrequest.kit.urls import PublicUrls
from payrequest.ledger import manual
from payrequest.ledger.manual import NewManualPayment
from payrequest.notify.email.smtp import EmailSender
from payrequest.notify.sms.sandbox import SandboxSms
from payrequest.notify.webhook.sender import WebhookSender
from payrequest.payment_requests.repository import invoices_in_active_requests
from payrequest.users import service as users
from tests.factories import TODAY, make_customer, make_invoice
from tests.mailbox import Mailbox

Sessions = async_sessionmaker[AsyncSession]
URLS = PublicUrls("https://pay.example.no", signing_key="test")
ANY_TIME = {"missed": "late", "quiet_hours": False, "weekends": True}


async def _flow(
    sessions: Sessions, trigger: str, days: int, *, since_days: int = 0, **rules: Any
) -> int:
    draft = service.Draft(
        name=f"{trigger} {days}",
        trigger=trigger,
        actions=[{"kind": "sms", "config": {"to": "customer", "text": "Husk {{ amount }}"}}],
        timing={"days": days, **ANY_TIME, **rules},
    )
    async with sessions() as session, session.begin():
        flow = await service.save(session, draft=draft, box=SecretBox("test key"), allow=())
        await service.set_enabled(session, flow_id=flow.id, enabled=True)
        if since_days:  # switched on some days ago
            when = datetime.now(UTC) - timedelta(days=since_days)
            await session.execute(update(Flow).where(Flow.id == flow.id).values(enabled_at=when))
        return flow.id


async def _invoice(sessions: Sessions, due: date, amount: int = 100_000, paid: int = 0) -> int:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoice = await make_invoice(
            session, customer, amount=amount, due_in_days=(due - TODAY).days
        )
        if paid:
            await manual.record(
                session,
                data=NewManualPayment(
                    customer_id=customer.id,
                    amount=Money(paid, "NOK"),
                    received_on=TODAY,
                    method="bank_transfer",
                    invoice_ids=(invoice.id,),
                ),
                in_requests=invoices_in_active_requests,
            )
        return invoice.id


async def _scan(sessions: Sessions, now: datetime | None = None) -> int:
    async with sessions(info=scoped_to(ALL)) as session:
        flows = await time_flows(session)
    return await scan(sessions, flows, now=now or datetime.now(UTC))


async def _steps(sessions: Sessions) -> list[tuple[str, int, dict[str, Any]]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.name.in_(timing.TIME_TRIGGERS))
            .order_by(OutboxEvent.id)
        )
        return [(e.name, e.aggregate_id, dict(e.payload)) for e in rows]


async def test_each_invoice_reaches_a_step_once_and_a_paid_one_drops_out(
    sessions: Sessions,
) -> None:
    soon = await _flow(sessions, timing.INVOICE_DUE, 3)
    overdue = await _flow(sessions, timing.INVOICE_OVERDUE, 7)
    await _flow(sessions, timing.INVOICE_DUE, 5)  # the same trigger, another step
    partly = await _invoice(sessions, TODAY + timedelta(days=3), amount=100_000, paid=40_000)
    await _invoice(sessions, TODAY + timedelta(days=3), amount=50_000, paid=50_000)  # paid
    await _invoice(sessions, TODAY + timedelta(days=4))  # tomorrow's step
    late_payer = await _invoice(sessions, TODAY - timedelta(days=7))

    assert await _scan(sessions) == 2
    assert await _scan(sessions) == 0  # the next scan, a restarted worker: nothing again

    steps = await _steps(sessions)
    assert [(name, invoice, p["flow_id"], p["days"], p["late"]) for name, invoice, p in steps] == [
        (timing.INVOICE_DUE, partly, soon, 3, False),
        (timing.INVOICE_OVERDUE, late_payer, overdue, 7, False),
    ]
    await _dispatch(sessions)
    async with sessions() as session:
        runs = (await session.execute(select(FlowRun.flow_id, FlowRun.event_name))).all()
        assert sorted(runs) == sorted(
            [(soon, timing.INVOICE_DUE), (overdue, timing.INVOICE_OVERDUE)]
        )  # the "due in 5 days" flow was not started by the other step's event
        event = await session.scalar(
            select(OutboxEvent)
            .where(OutboxEvent.aggregate_id == partly)
            .where(OutboxEvent.name == timing.INVOICE_DUE)
        )
        assert event is not None
        data = await event_data(session, event, urls=URLS)
    assert data.context["amount"] == "600,00\xa0kr"  # what is still open, not the total
    assert data.facts.amount == 60_000


async def _dispatch(sessions: Sessions) -> None:
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        await dispatch(session, urls=URLS)


async def test_workers_scanning_at_once_start_each_step_once(sessions: Sessions) -> None:
    await _flow(sessions, timing.INVOICE_DUE, 0)
    due = [await _invoice(sessions, TODAY) for _ in range(6)]

    started = await asyncio.gather(*(_scan(sessions) for _ in range(3)))

    assert sum(started) == 6
    assert sorted(invoice for _, invoice, _ in await _steps(sessions)) == sorted(due)
    async with sessions() as session:
        marks = await session.scalar(select(func.count()).select_from(ScheduleMark))
    assert marks == 6


async def test_a_missed_day_goes_out_late_or_is_skipped_by_the_flows_rule(
    sessions: Sessions,
) -> None:
    # The step "3 days before the due date" of an invoice due tomorrow was two days ago.
    invoice = await _invoice(sessions, TODAY + timedelta(days=1))
    await _flow(sessions, timing.INVOICE_DUE, 3, since_days=10, missed="skip")
    await _flow(sessions, timing.INVOICE_DUE, 3, missed="late")  # switched on today
    assert await _scan(sessions) == 0  # skipped by one, before the other was switched on

    late = await _flow(sessions, timing.INVOICE_DUE, 3, since_days=10, missed="late")
    assert await _scan(sessions) == 1

    [(_, reached, payload)] = await _steps(sessions)
    assert (reached, payload["flow_id"], payload["late"]) == (invoice, late, True)
    assert payload["step_on"] == (TODAY - timedelta(days=2)).isoformat()


async def test_quiet_hours_and_weekends_wait_for_the_business_day(sessions: Sessions) -> None:
    await _flow(sessions, timing.INVOICE_DUE, 0, quiet_hours=True, weekends=False)
    await _invoice(sessions, TODAY)
    today = TODAY
    oslo = timing.time_zone("NO")

    def at(day: date, hour: int) -> datetime:
        return datetime(day.year, day.month, day.day, hour, tzinfo=oslo).astimezone(UTC)

    if today.weekday() >= timing.SATURDAY:  # a weekend day: it waits, whatever the hour
        assert await _scan(sessions, at(today, 12)) == 0
        return
    assert await _scan(sessions, at(today, 3)) == 0  # 03:00: quiet hours
    assert await _scan(sessions, at(today, 20)) == 0  # 20:00: quiet hours again
    assert await _scan(sessions, at(today, 8)) == 1  # 08:00: the business day starts


async def test_the_forecast_counts_what_the_scheduler_then_sends(sessions: Sessions) -> None:
    flow_id = await _flow(sessions, timing.INVOICE_DUE, 3, missed="skip")
    oslo = timing.time_zone("NO")
    today = datetime.now(oslo).date()  # the business's day
    tomorrow = today + timedelta(days=1)
    expected = [await _invoice(sessions, tomorrow + timedelta(days=3)) for _ in range(3)]
    await _invoice(sessions, tomorrow + timedelta(days=3), amount=20_000, paid=20_000)
    await _invoice(sessions, today + timedelta(days=3))  # today's step
    async with sessions() as session:
        flow = await session.get_one(Flow, flow_id)
        ahead = await schedule.days_ahead(session, flow, now=datetime.now(UTC))
    assert ahead == [(today, 1), (tomorrow, 3)]

    noon = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 12, tzinfo=oslo)
    assert await _scan(sessions, noon.astimezone(UTC)) == 3  # what the forecast said
    assert sorted(invoice for _, invoice, _ in await _steps(sessions)) == sorted(expected)


async def test_the_forecast_and_the_runs_agree_on_a_tag_condition(sessions: Sessions) -> None:
    flow_id = await _flow(sessions, timing.INVOICE_DUE, 3, missed="skip")
    async with sessions() as session, session.begin():
        flow = await service.get(session, flow_id)
        flow.conditions = {"tag": "vip", "amount_min": 50_000}
    oslo = timing.time_zone("NO")
    tomorrow = datetime.now(oslo).date() + timedelta(days=1)
    due = tomorrow + timedelta(days=3)
    async with sessions() as session, session.begin():
        vip = await make_customer(session, tags=("vip", "b2b"))
        plain = await make_customer(session, tags=("b2b",))
        expected = [
            (await make_invoice(session, vip, due_in_days=(due - TODAY).days)).id for _ in range(2)
        ]
        small = await make_invoice(session, vip, amount=20_000, due_in_days=(due - TODAY).days)
        others = [
            (await make_invoice(session, plain, due_in_days=(due - TODAY).days)).id
            for _ in range(3)
        ]
    async with sessions() as session:
        flow = await session.get_one(Flow, flow_id)
        assert await schedule.forecast(session, flow, tomorrow) == 2  # the vip's big ones

    noon = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 12, tzinfo=oslo)
    assert await _scan(sessions, noon.astimezone(UTC)) == 6  # every step is reached ...
    await _dispatch(sessions)
    async with sessions() as session:
        started = (
            await session.execute(
                select(OutboxEvent.aggregate_id)
                .join(FlowRun, FlowRun.outbox_event_id == OutboxEvent.id)
                .where(FlowRun.flow_id == flow_id)
            )
        ).scalars()
        assert sorted(started) == sorted(expected)  # ... and runs where the forecast said
    assert small.id not in expected and set(others).isdisjoint(expected)


async def test_the_reminder_ladder_is_added_once_switched_off_and_each_step_can_go_on(
    sessions: Sessions,
) -> None:
    box = SecretBox("test key")
    async with sessions() as session, session.begin():
        added = await service.add_ladder(session, language="nb", box=box)
        again = await service.add_ladder(session, language="nb", box=box)
    assert (added, again) == (4, 0)
    async with sessions() as session, session.begin():
        flows = (await session.scalars(select(Flow).order_by(Flow.id))).all()
        ladder = [f for f in flows if f.trigger in timing.TIME_TRIGGERS]
        assert [(f.trigger, (f.timing or {})["days"], f.enabled) for f in ladder] == [
            (timing.INVOICE_DUE, 3, False),
            (timing.INVOICE_DUE, 0, False),
            (timing.INVOICE_OVERDUE, 7, False),
            (timing.INVOICE_OVERDUE, 14, False),
        ]
        for flow in ladder:  # each passes the check of switching on
            await service.set_enabled(session, flow_id=flow.id, enabled=True)
        first = await service.get(session, ladder[0].id)
    config = first.actions[0].config
    assert config["channel"] == "sms" and config["language"] == "nb"
    assert config["text"].startswith("Hei {{ customer_name }}, en vennlig påminnelse")
    assert config["variants"]["da"]["text"].startswith("Hej {{ customer_name }}, en venlig")
    assert config["variants"]["en"]["text"].startswith("Hi {{ customer_name }}, a friendly")


async def test_an_opted_out_customer_is_skipped_and_a_paused_one_waits(sessions: Sessions) -> None:
    await _flow(sessions, timing.INVOICE_DUE, 0, since_days=5)
    opted_out = await _invoice(sessions, TODAY)
    paused = await _invoice(sessions, TODAY)
    async with sessions() as session, session.begin():
        for invoice_id, state in ((opted_out, "opted_out"), (paused, "paused")):
            invoice = await session.get_one(Invoice, invoice_id)
            await customer_service.set_reminders(
                session, customer_id=invoice.customer_id, state=state
            )

    assert await _scan(sessions) == 0
    assert await _steps(sessions) == []  # nothing sent to either
    async with sessions() as session:
        marks = (await session.execute(select(ScheduleMark.invoice_id, ScheduleMark.skipped))).all()
    assert marks == [(opted_out, "opted_out")]  # the skip is on record; the pause leaves none

    async with sessions() as session, session.begin():  # staff resume; the step goes out
        invoice = await session.get_one(Invoice, paused)
        await customer_service.set_reminders(session, customer_id=invoice.customer_id, state="on")
    assert await _scan(sessions) == 1
    assert [invoice for _, invoice, _ in await _steps(sessions)] == [paused]


async def test_a_customer_who_replied_stop_by_sms_is_skipped_the_same_way(
    sessions: Sessions,
) -> None:
    await _flow(sessions, timing.INVOICE_DUE, 0, since_days=5)
    stopped = await _invoice(sessions, TODAY)  # the factory's customers have +4791234567
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        applied = await replies.receive_reply(
            session, sender="4791234567", text="Stopp", gateway="sandbox", message_id="r-1"
        )
    assert applied.opted_out == 1

    assert await _scan(sessions) == 0
    assert await _steps(sessions) == []
    async with sessions() as session:
        marks = (await session.execute(select(ScheduleMark.invoice_id, ScheduleMark.skipped))).all()
    assert marks == [(stopped, "opted_out")]  # what the run log and the card show


async def test_a_paused_invoice_waits_until_resumed(sessions: Sessions) -> None:
    await _flow(sessions, timing.INVOICE_DUE, 0, since_days=5)
    held = await _invoice(sessions, TODAY)
    other = await _invoice(sessions, TODAY)
    async with sessions() as session, session.begin():
        await invoice_service.set_reminders_paused(session, invoice_id=held, paused=True)

    assert await _scan(sessions) == 1
    assert [invoice for _, invoice, _ in await _steps(sessions)] == [other]

    async with sessions() as session, session.begin():
        await invoice_service.set_reminders_paused(session, invoice_id=held, paused=False)
    assert await _scan(sessions) == 1
    assert [invoice for _, invoice, _ in await _steps(sessions)] == [other, held]


async def test_a_step_with_a_reminders_limit_runs_only_for_invoices_reminded_less(
    sessions: Sessions,
) -> None:
    first = await _flow(sessions, timing.INVOICE_DUE, 3, since_days=10)
    second = await _flow(sessions, timing.INVOICE_OVERDUE, 0, since_days=10)
    async with sessions() as session, session.begin():  # only the not yet reminded
        flow = await service.get(session, second)
        flow.conditions = {"reminders_max": 0}
    reminded = await _invoice(sessions, TODAY)  # its step 3 days ago went out (late, now)
    quiet = await _invoice(sessions, TODAY)
    async with sessions() as session, session.begin():  # ... and this one's customer said no
        invoice = await session.get_one(Invoice, quiet)
        await customer_service.set_reminders(
            session, customer_id=invoice.customer_id, state="opted_out"
        )
    assert await _scan(sessions) == 2  # both flows reach `reminded`
    await _dispatch(sessions)
    async with sessions() as session:
        runs = sorted((await session.execute(select(FlowRun.flow_id))).scalars())
    assert runs == [first]  # the second step: one reminder before it, at most 0 allowed
    assert [invoice for _, invoice, _ in await _steps(sessions)] == [reminded, reminded]


async def test_the_ladders_last_step_tells_each_active_owner_and_staff_member_in_their_language(
    sessions: Sessions, mailbox_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = mailbox_server
    mailbox.received.clear()
    async with sessions() as session, session.begin():
        for email, role, locale in (
            ("eier@example.no", "owner", "nb"),
            ("ansat@example.no", "staff", "da"),
            ("les@example.no", "readonly", "en"),  # only looks: not told
        ):
            await users.create_user(
                session, email=email, password="x" * 12, role=role, locale=locale
            )
        await service.add_ladder(session, language="nb", box=SecretBox("test key"))
        [last] = (
            await session.scalars(select(Flow).where(Flow.name == ready_made.LADDER_STAFF))
        ).all()
        await service.set_enabled(session, flow_id=last.id, enabled=True)
        last.timing = {**(last.timing or {}), "quiet_hours": False, "weekends": True}
    await _invoice(sessions, TODAY - timedelta(days=14), amount=123_450)
    assert await _scan(sessions) == 1
    await _dispatch(sessions)
    services = Services(
        sessions,
        SandboxSms(base_url="http://127.0.0.1:9/unused"),
        EmailSender(host="127.0.0.1", port=port, sender="payrequest@example.no", starttls=False),
        WebhookSender(),
        SecretBox("test key"),
        URLS,
    )
    async with sessions() as session, session.begin():
        run = (await session.scalars(select(FlowRun))).one()
        run_id = run.id
    async with sessions() as session, session.begin():
        await perform(services, session, flow_run_id=run_id, position=0)

    letters = {str(m["To"]): m for m in mailbox.received}
    assert sorted(letters) == ["ansat@example.no", "eier@example.no"]

    def body(to: str) -> str:
        found = letters[to].get_body(("plain",))
        assert found is not None
        return str(found.get_content())

    assert "har ikke betalt faktura" in str(letters["eier@example.no"]["Subject"])
    assert "skylder fortsatt 1\xa0234,50\xa0kr" in body("eier@example.no")  # Norwegian
    assert "skylder stadig" in body("ansat@example.no")  # Danish, her own language
    async with sessions() as session:  # and a note on the customer's card, until done
        [notice] = (await session.scalars(select(StaffNotice))).all()
    assert "har ikke betalt faktura" in notice.title and "skylder fortsatt" in notice.text


async def test_a_credit_unused_for_n_days_is_reached_once_with_what_is_left(
    sessions: Sessions,
) -> None:
    flow_id = await _flow(sessions, timing.CREDIT_UNUSED, 0, since_days=5)
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoice = await make_invoice(session, customer, amount=30_000)
        await manual.record(  # 30.00 more than the invoice: credit
            session,
            data=NewManualPayment(
                customer_id=customer.id,
                amount=Money(33_000, "NOK"),
                received_on=TODAY,
                method="bank_transfer",
                invoice_ids=(invoice.id,),
            ),
            in_requests=invoices_in_active_requests,
        )
        flow = await session.get_one(Flow, flow_id)
        [(day, count)] = await schedule.days_ahead(session, flow, now=datetime.now(UTC), days=1)
    assert count == 1

    assert await _scan(sessions) == 1
    assert await _scan(sessions) == 0
    [(name, _credit, payload)] = await _steps(sessions)
    assert name == timing.CREDIT_UNUSED and payload["flow_id"] == flow_id
    assert (payload["amount"], payload["currency"]) == (3_000, "NOK")
    await _dispatch(sessions)
    async with sessions() as session:
        event = (await session.scalars(select(OutboxEvent).where(OutboxEvent.name == name))).one()
        data = await event_data(session, event, urls=URLS)
    assert data.context["amount"] == "30,00\xa0kr" and day
