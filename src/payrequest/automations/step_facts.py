"""The facts a flow's conditions would test for many steps of a time trigger at once, before
their events exist: what the forecast counts with, so that it counts what the dispatcher will
start (automations.context builds the same facts from each step's event when it is sent).

A step's facts: what is still open on the invoice (for a credit: what is left of it) and its
currency; the customer's country, language and tags; the reminders the invoice (or credit)
has had so far, which are the reminders "before" the coming step. A handful of queries for
any number of steps: each reads its rows for `CHUNK` steps at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.automations.conditions import Facts
from payrequest.automations.timing import TIME_TRIGGERS
from payrequest.customers import repository as customers
from payrequest.customers.models import Customer
from payrequest.events.models import OutboxEvent
from payrequest.invoices.models import Invoice
from payrequest.ledger.repository import allocated_by_invoice

CHUNK = 500


@dataclass(frozen=True, slots=True)
class Step:
    """A step about to be reached: its subject and customer; a credit's amount and currency
    (an invoice's are read)."""

    subject: str  # "invoice" or "credit"
    subject_id: int
    customer_id: int
    amount: int | None = None
    currency: str | None = None


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    ordered = sorted(set(ids))
    return [ordered[start : start + CHUNK] for start in range(0, len(ordered), CHUNK)]


async def _invoice_amounts(
    session: AsyncSession, invoice_ids: Sequence[int]
) -> dict[int, tuple[int, str]]:
    """(open amount, currency) of each invoice, as automations.context reads a reminder's."""
    found: dict[int, tuple[int, str]] = {}
    for chunk in _chunks(invoice_ids):
        allocated = await allocated_by_invoice(session, chunk)
        rows = await session.execute(
            select(Invoice.id, Invoice.total, Invoice.currency).where(Invoice.id.in_(chunk))
        )
        for invoice_id, total, currency in rows:
            found[invoice_id] = (int(total) - allocated.get(invoice_id, 0), currency)
    return found


async def _customer_facts(
    session: AsyncSession, customer_ids: Sequence[int]
) -> dict[int, tuple[str, str]]:
    """(country, language) of each customer."""
    found: dict[int, tuple[str, str]] = {}
    for chunk in _chunks(customer_ids):
        rows = await session.execute(
            select(Customer.id, Customer.country, Customer.locale).where(Customer.id.in_(chunk))
        )
        found.update({customer_id: (country, locale) for customer_id, country, locale in rows})
    return found


async def _reminders_so_far(
    session: AsyncSession, subject: str, subject_ids: Sequence[int]
) -> dict[int, int]:
    """The steps of time triggers written for each invoice (or credit) so far."""
    found: dict[int, int] = {}
    for chunk in _chunks(subject_ids):
        rows = await session.execute(
            select(OutboxEvent.aggregate_id, func.count())
            .where(
                OutboxEvent.aggregate_type == subject,
                OutboxEvent.aggregate_id.in_(chunk),
                OutboxEvent.name.in_(TIME_TRIGGERS),
            )
            .group_by(OutboxEvent.aggregate_id)
        )
        found.update({subject_id: int(count) for subject_id, count in rows})
    return found


async def facts_of_steps(session: AsyncSession, steps: Sequence[Step]) -> list[Facts]:
    """The facts of each step, in their order."""
    invoices = [s.subject_id for s in steps if s.subject == "invoice"]
    credits = [s.subject_id for s in steps if s.subject == "credit"]
    amounts = await _invoice_amounts(session, invoices)
    reminders = {
        "invoice": await _reminders_so_far(session, "invoice", invoices),
        "credit": await _reminders_so_far(session, "credit", credits),
    }
    owners = [s.customer_id for s in steps]
    people = await _customer_facts(session, owners)
    tags = await customers.tags_by_customer(session, owners)
    found = []
    for step in steps:
        amount, currency = (
            amounts.get(step.subject_id, (None, None))
            if step.subject == "invoice"
            else (step.amount, step.currency)
        )
        country, language = people.get(step.customer_id, (None, None))
        found.append(
            Facts(
                amount=amount,
                currency=currency,
                country=country,
                language=language,
                reminders_sent=reminders[step.subject].get(step.subject_id, 0),
                tags=frozenset(tags.get(step.customer_id, ())),
            )
        )
    return found
