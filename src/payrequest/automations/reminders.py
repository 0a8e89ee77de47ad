"""What a customer's reminders have done and will do, for the customer card: the steps of
time-triggered flows their invoices reached (sent, or skipped because they opted out), and the
next steps due on their open invoices while things stay as they are; and for a flow's page,
the steps it skipped and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.automations import timing
from payrequest.automations.models import Flow, ScheduleMark
from payrequest.automations.schedule import business_zone
from payrequest.customers.models import Customer
from payrequest.invoices.models import Invoice
from payrequest.ledger.models import Credit
from payrequest.ledger.repository import is_open

SHOWN = 8


@dataclass(frozen=True, slots=True)
class Step:
    flow_name: str
    invoice_id: int
    invoice_number: str
    day: date  # the step's day: when it was due, or will be
    reached_at: datetime | None = None  # None: still to come
    skipped: str | None = None
    late: bool = False


async def for_customer(
    session: AsyncSession, customer_id: int, *, now: datetime
) -> tuple[list[Step], list[Step]]:
    """(the latest steps reached, newest first; the next ones, soonest first)."""
    reached = [
        Step(name, invoice_id, number, mark.step_on, mark.created_at, mark.skipped, mark.late)
        for mark, name, number, invoice_id in await session.execute(
            select(ScheduleMark, Flow.name, Invoice.number, Invoice.id)
            .join(Flow, Flow.id == ScheduleMark.flow_id)
            .join(Invoice, Invoice.id == ScheduleMark.invoice_id)
            .where(Invoice.customer_id == customer_id)
            .order_by(ScheduleMark.id.desc())
            .limit(SHOWN)
        )
    ]
    flows = (
        await session.scalars(
            select(Flow)
            .where(Flow.enabled.is_(True), Flow.trigger.in_(timing.INVOICE_TRIGGERS))
            .order_by(Flow.id)
        )
    ).all()
    if not flows:
        return reached, []
    today = now.astimezone(await business_zone(session, flows[0].organisation_id)).date()
    open_invoices = (
        await session.execute(
            select(Invoice.id, Invoice.number, Invoice.due_date).where(
                Invoice.customer_id == customer_id, is_open()
            )
        )
    ).all()
    rows = await session.execute(
        select(ScheduleMark.flow_id, ScheduleMark.invoice_id).where(
            ScheduleMark.invoice_id.in_([row.id for row in open_invoices])
        )
    )
    marked = {(flow_id, invoice_id) for flow_id, invoice_id in rows}
    upcoming = []
    for flow in flows:
        days = timing.Timing.of(flow.timing).days
        for invoice_id, number, due_date in open_invoices:
            day = timing.step_day(flow.trigger, due_date, days)
            if (flow.id, invoice_id) not in marked and day >= today:
                upcoming.append(Step(flow.name, invoice_id, number, day))
    upcoming.sort(key=lambda step: (step.day, step.invoice_number))
    return reached, upcoming[:SHOWN]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A step a time-triggered flow did not send, and why (ScheduleMark.skipped)."""

    customer_id: int
    customer_name: str
    invoice_id: int | None  # None: a credit's step
    invoice_number: str | None
    day: date
    at: datetime
    why: str


async def skipped_by_flow(session: AsyncSession, flow_id: int) -> list[Skipped]:
    """The flow's latest skipped steps, newest first: its run log has no run for them."""
    customer_id = func.coalesce(Invoice.customer_id, Credit.customer_id)
    rows = await session.execute(
        select(ScheduleMark, Customer.id, Customer.name, Invoice.number)
        .outerjoin(Invoice, Invoice.id == ScheduleMark.invoice_id)
        .outerjoin(Credit, Credit.id == ScheduleMark.credit_id)
        .join(Customer, Customer.id == customer_id)
        .where(ScheduleMark.flow_id == flow_id, ScheduleMark.skipped.is_not(None))
        .order_by(ScheduleMark.id.desc())
        .limit(SHOWN)
    )
    return [
        Skipped(
            who, name, mark.invoice_id, number, mark.step_on, mark.created_at, mark.skipped or ""
        )
        for mark, who, name, number in rows
    ]
