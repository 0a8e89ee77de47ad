"""The scheduler: flows with a time trigger (automations.timing) reach the invoices whose step
is due, once each.

A periodic job of the installation (`SCHEDULE_JOB`). For each enabled time-triggered flow, in a
transaction of the flow's own organisation: if the business's clock allows sending now (quiet
hours, weekends), the open, non-void invoices whose step day is due (today, or a missed day
sent late) and that this flow has not reached yet get a `ScheduleMark` and an outbox event
named as the trigger; the dispatcher starts that flow, and only that flow, for the event
(automations.dispatch). The mark's unique (flow, invoice) key makes the step happen once however
many workers scan at once and however often a scan is repeated after a crash: the mark and the
event commit together or not at all, and a second insert of the same key does nothing.

An invoice paid (or voided) before its step is not open any more: the ladder stops by itself.
A customer who opted out of reminders gets the mark, skipped, and no event; an invoice, or a
customer, whose reminders staff paused is left until they are resumed (then a missed day goes
out late or is skipped, by the flow's rule).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Select, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.automations import timing
from payrequest.automations.conditions import matches
from payrequest.automations.models import Flow, ScheduleMark
from payrequest.automations.step_facts import Step, facts_of_steps
from payrequest.customers.models import Customer
from payrequest.db.dialect import insert_for
from payrequest.db.scope import scoped_to
from payrequest.events import outbox
from payrequest.invoices.models import Invoice
from payrequest.ledger.models import Credit
from payrequest.ledger.repository import credit_remaining, is_open, live_credit
from payrequest.organisations.models import Organisation

logger = logging.getLogger(__name__)

SCHEDULE_JOB = "automations.schedule"
BATCH = 500  # invoices reached per flow and scan; the next scan takes the rest


async def time_flows(session: AsyncSession) -> list[tuple[int, int]]:
    """(flow id, organisation id) of every enabled flow with a time trigger."""
    rows = await session.execute(
        select(Flow.id, Flow.organisation_id)
        .where(Flow.enabled.is_(True), Flow.trigger.in_(list(timing.TIME_TRIGGERS)))
        .order_by(Flow.id)
    )
    return [(flow_id, organisation_id) for flow_id, organisation_id in rows]


async def scan(sessions: async_sessionmaker[AsyncSession], flows: list[tuple[int, int]], *,
               now: datetime) -> int:  # fmt: skip
    """Reach the due invoices of each flow; returns how many steps were started."""
    started = 0
    for flow_id, organisation_id in flows:
        async with sessions(info=scoped_to(organisation_id)) as session, session.begin():
            started += await reach(session, flow_id, now=now)
    return started


async def reach(session: AsyncSession, flow_id: int, *, now: datetime, limit: int = BATCH) -> int:
    """Mark and announce the invoices whose step of flow `flow_id` is due at `now`."""
    flow = await session.get(Flow, flow_id)
    if flow is None or not flow.enabled or flow.trigger not in timing.TIME_TRIGGERS:
        return 0
    rules = timing.Timing.of(flow.timing)
    local = now.astimezone(await business_zone(session, flow.organisation_id))
    if not timing.may_send(local, rules):
        return 0
    today = local.date()
    switched_on = (flow.enabled_at or now).astimezone(local.tzinfo).date()
    steps = timing.step_days(today, rules, switched_on=switched_on)
    if flow.trigger == timing.CREDIT_UNUSED:
        due = await _due_credits(session, flow, steps, rules.days, local.tzinfo, limit)
    else:
        first, last = timing.due_dates(flow.trigger, steps, rules.days)
        due = [
            _Due("invoice", invoice_id, customer_id, step, reminders, {})
            for invoice_id, customer_id, due_date, reminders in await _due_invoices(
                session, flow, first, last, limit
            )
            for step in (timing.step_day(flow.trigger, due_date, rules.days),)
        ]
    insert = insert_for(session)
    started = 0
    for item in due:
        skipped = "opted_out" if item.reminders == "opted_out" else None
        key = f"{item.subject}_id"
        marked = await session.scalar(
            insert(ScheduleMark)
            .values(
                organisation_id=flow.organisation_id,
                flow_id=flow.id,
                step_on=item.step_on,
                late=item.step_on < today,
                skipped=skipped,
                created_at=now,
                **{key: item.subject_id},
            )
            .on_conflict_do_nothing(index_elements=["flow_id", key])
            .returning(ScheduleMark.id)
        )
        if marked is None or skipped:
            continue  # another worker reached it first; or the customer wants no reminders
        await outbox.record(
            session,
            name=flow.trigger,
            aggregate_type=item.subject,
            aggregate_id=item.subject_id,
            customer_id=item.customer_id,
            payload={
                "flow_id": flow.id,
                "days": rules.days,
                "step_on": item.step_on.isoformat(),
                "late": item.step_on < today,
                **item.payload,
            },
        )
        started += 1
    if started:
        logger.info("flow %s reached %s steps", flow.id, started)
    return started


@dataclass(frozen=True, slots=True)
class _Due:
    """A step due now: about an invoice or a credit."""

    subject: str  # "invoice" or "credit"
    subject_id: int
    customer_id: int
    step_on: date
    reminders: str  # the customer's (customers.models.REMINDER_STATES)
    payload: dict[str, object]  # more for the step's event


async def _due_credits(
    session: AsyncSession,
    flow: Flow,
    steps: tuple[date, date],
    days: int,
    zone: tzinfo | None,
    limit: int,
) -> list[_Due]:
    """Live credits with something left whose step (N days after they arose, in the
    business's days) falls in `steps`, not reached by the flow yet; their remaining amount
    goes with the event."""
    first = datetime.combine(steps[0] - timedelta(days=days), time(0), zone)
    after = datetime.combine(steps[1] - timedelta(days=days - 1), time(0), zone)
    remaining, used, refunded = credit_remaining()
    reached = exists().where(ScheduleMark.flow_id == flow.id, ScheduleMark.credit_id == Credit.id)
    rows = await session.execute(
        select(Credit, remaining, Customer.reminders)
        .join(Customer, Customer.id == Credit.customer_id)
        .outerjoin(used, used.c.credit_id == Credit.id)
        .outerjoin(refunded, refunded.c.credit_id == Credit.id)
        .where(
            Credit.organisation_id == flow.organisation_id,
            live_credit(),
            Credit.created_at >= first,
            Credit.created_at < after,
            remaining > 0,
            Customer.reminders != "paused",
            ~reached,
        )
        .order_by(Credit.id)
        .limit(limit)
    )
    return [
        _Due(
            "credit",
            credit.id,
            credit.customer_id,
            credit.created_at.astimezone(zone).date() + timedelta(days=days),
            reminders,
            {"amount": int(left), "currency": credit.currency},
        )
        for credit, left, reminders in rows
    ]


async def days_ahead(
    session: AsyncSession, flow: Flow, *, now: datetime, days: int = 2
) -> list[tuple[date, int]]:
    """`forecast` for today and the next days in the business's time zone."""
    if flow.trigger not in timing.TIME_TRIGGERS:
        return []
    today = now.astimezone(await business_zone(session, flow.organisation_id)).date()
    return [
        (today + timedelta(days=n), await forecast(session, flow, today + timedelta(days=n)))
        for n in range(days)
    ]


async def business_zone(session: AsyncSession, organisation_id: int) -> ZoneInfo:
    """The time zone the organisation keeps its days in (its market's)."""
    market = await session.scalar(
        select(Organisation.market).where(Organisation.id == organisation_id)
    )
    return timing.time_zone(market or "NO")


async def forecast(session: AsyncSession, flow: Flow, day: date) -> int:
    """How many invoices (or credits) the flow would send to on `day` as things stand: open,
    not reached yet, their customer's reminders on, their step on that day, and the flow's
    conditions met as the dispatcher will test them (automations.step_facts); what the flow
    builder shows before a flow is switched on. A missed day counts on the day it goes out."""
    if flow.trigger not in timing.TIME_TRIGGERS:
        return 0
    rules = timing.Timing.of(flow.timing)
    if flow.trigger == timing.CREDIT_UNUSED:
        zone = await business_zone(session, flow.organisation_id)
        credits = await _due_credits(session, flow, (day, day), rules.days, zone, limit=10**6)
        steps = [
            Step(
                "credit",
                item.subject_id,
                item.customer_id,
                amount=cast(int, item.payload["amount"]),
                currency=cast(str, item.payload["currency"]),
            )
            for item in credits
            if item.reminders == "on"
        ]
    else:
        first, last = timing.due_dates(flow.trigger, (day, day), rules.days)
        due = _due(flow, first, last).where(Customer.reminders == "on")
        if not flow.conditions:
            return int(await session.scalar(select(func.count()).select_from(due.subquery())) or 0)
        rows = await session.execute(due)
        steps = [Step("invoice", invoice_id, customer_id) for invoice_id, customer_id, _, _ in rows]
    if not flow.conditions:
        return len(steps)
    facts = await facts_of_steps(session, steps)
    return sum(1 for each in facts if matches(flow.conditions, each))


async def _due_invoices(
    session: AsyncSession, flow: Flow, first: date, last: date, limit: int
) -> list[tuple[int, int, date, str]]:
    rows = await session.execute(_due(flow, first, last).limit(limit))
    return [(i, customer_id, due_date, reminders) for i, customer_id, due_date, reminders in rows]


def _due(flow: Flow, first: date, last: date) -> Select[int, int, date, str]:
    """(id, customer id, due date, the customer's reminders) of the open, non-void invoices
    due in [first, last] that the flow has not reached, oldest due first; those of customers
    whose reminders staff paused, and invoices paused, wait (left out until resumed)."""
    reached = exists().where(ScheduleMark.flow_id == flow.id, ScheduleMark.invoice_id == Invoice.id)
    return (
        select(Invoice.id, Invoice.customer_id, Invoice.due_date, Customer.reminders)
        .join(Customer, Customer.id == Invoice.customer_id)
        .where(
            Invoice.organisation_id == flow.organisation_id,
            is_open(),
            Invoice.due_date.between(first, last),
            Customer.reminders != "paused",
            Invoice.reminders_paused.is_(False),
            ~reached,
        )
        .order_by(Invoice.due_date, Invoice.id)
    )
