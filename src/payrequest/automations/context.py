"""What a template sees, and what conditions test, built from one outbox event.

Every variable exists for every event (empty when the event has no such fact), so a template
that passes the save-time check against `sample_context()` cannot fail on a missing variable
at run time. `portal_link` exists only in portal-link actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from babel.dates import format_date
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.automations.conditions import Facts
from payrequest.automations.timing import TIME_TRIGGERS
from payrequest.customers import repository as customers
from payrequest.customers.models import Customer
from payrequest.events.models import OutboxEvent
from payrequest.invoices.models import Invoice
from payrequest.kit.money import Money
from payrequest.kit.urls import PublicUrls
from payrequest.ledger.repository import allocated_by_invoice
from payrequest.payment_requests.models import PaymentRequest, PaymentRequestInvoice

SAMPLE_URLS = PublicUrls("https://example.no", signing_key="sample links only")
BABEL_LOCALES = {"nb": "nb_NO", "da": "da_DK", "en": "en_GB"}

VARIABLES: dict[str, str] = {
    "customer_name": "Kari Nordmann",
    "customer_number": "10001",
    "customer_email": "kari@example.no",
    "customer_phone": "+4791234567",
    "amount": "1 234,50 kr",
    "amount_minor": "123450",
    "currency": "NOK",
    "reference": "inv-10023-a1b2c3",
    "description": "Invoice 10023",
    "status": "paid",
    "invoice_numbers": "10023, 10024",
    "due_date": "1. feb. 2027",
    "receipt_link": SAMPLE_URLS.receipt("inv-10023-a1b2c3"),
    "event_name": "payment_request.paid",
    "event_id": "1",
    "occurred_at": "2027-01-15T10:30:00+00:00",
}
PORTAL_LINK_SAMPLE = SAMPLE_URLS.portal_link("sample-token")


def sample_context(*, portal_link: bool = False) -> dict[str, Any]:
    context: dict[str, Any] = dict(VARIABLES)
    context["invoices"] = [
        {"number": "10023", "due_date": "1. feb. 2027", "amount": "1 000,00 kr"},
        {"number": "10024", "due_date": "1. mar. 2027", "amount": "234,50 kr"},
    ]
    if portal_link:
        context["portal_link"] = PORTAL_LINK_SAMPLE
    return context


@dataclass
class EventData:
    context: dict[str, Any]
    facts: Facts
    customer: Customer | None


async def invoices_of(session: AsyncSession, event: OutboxEvent) -> list[int]:
    """The invoices an event is about: an invoice's own, or those of a payment request."""
    if event.aggregate_type == "invoice":
        return [event.aggregate_id]
    if event.aggregate_type != "payment_request":
        return []
    rows = await session.scalars(
        select(PaymentRequestInvoice.invoice_id)
        .where(PaymentRequestInvoice.payment_request_id == event.aggregate_id)
        .order_by(PaymentRequestInvoice.invoice_id)
    )
    return list(rows)


async def _reminders_before(session: AsyncSession, event: OutboxEvent) -> int:
    """The reminders an invoice (or a credit) had before the step of `event`: the steps of
    time triggers written for it earlier (a skipped step writes no event)."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(
                OutboxEvent.aggregate_type == event.aggregate_type,
                OutboxEvent.aggregate_id == event.aggregate_id,
                OutboxEvent.name.in_(TIME_TRIGGERS),
                OutboxEvent.id < event.id,
            )
        )
        or 0
    )


def _day(value: date | None, locale: str) -> str:
    return "" if value is None else str(format_date(value, "medium", locale=locale))


async def event_data(
    session: AsyncSession,
    event: OutboxEvent,
    *,
    urls: PublicUrls,
    tags: Mapping[int, tuple[str, ...]] | None = None,
) -> EventData:
    """The event's template context and facts. `tags`: the customers' tags read beforehand
    for a batch of events (customers.repository.tags_by_customer); without it the event's
    customer's are read here."""
    customer = await session.get(Customer, event.customer_id) if event.customer_id else None
    language = customer.locale if customer is not None else "nb"
    locale = BABEL_LOCALES.get(language, "nb_NO")
    context: dict[str, Any] = {key: "" for key in VARIABLES}
    context["invoices"] = []
    context.update(
        event_name=event.name,
        event_id=str(event.id),
        occurred_at=event.created_at.isoformat() if event.created_at else "",
    )
    if customer is not None:
        context.update(
            customer_name=customer.name,
            customer_number=customer.number,
            customer_email=customer.email or "",
            customer_phone=customer.phone or "",
        )
    payload = event.payload or {}
    amount: int | None = None
    currency: str | None = None
    origin: str | None = None
    invoices: list[Invoice] = []
    planned: dict[int, int] = {}
    request: PaymentRequest | None = None
    if event.aggregate_type == "payment_request":
        request = await session.get(PaymentRequest, event.aggregate_id)
    elif event.aggregate_type == "refund" and payload.get("payment_request_id"):
        request = await session.get(PaymentRequest, int(payload["payment_request_id"]))
    if event.aggregate_type == "payment_request" and request is not None:
        amount, currency, origin = request.amount, request.currency, request.origin
        context.update(description=request.description, status=request.status)
    if request is not None:
        context.update(
            reference=request.reference,
            receipt_link=urls.receipt(request.reference),
        )
        rows = await session.execute(
            select(Invoice, PaymentRequestInvoice.planned_amount)
            .join(PaymentRequestInvoice, PaymentRequestInvoice.invoice_id == Invoice.id)
            .where(PaymentRequestInvoice.payment_request_id == request.id)
            .order_by(Invoice.due_date, Invoice.id)
        )
        for invoice, amount_planned in rows.all():
            invoices.append(invoice)
            planned[invoice.id] = int(amount_planned)
    elif event.aggregate_type == "invoice":
        found = await session.get(Invoice, event.aggregate_id)
        if found is not None:
            invoices.append(found)
            amount, currency = found.total, found.currency
            if event.name in TIME_TRIGGERS:  # a reminder is about what is still open
                amount -= (await allocated_by_invoice(session, [found.id])).get(found.id, 0)
            planned[found.id] = amount
            context.update(description=found.note or "")
    if amount is None and isinstance(payload.get("amount"), int) and payload.get("currency"):
        amount, currency = int(payload["amount"]), str(payload["currency"])
    if amount is not None and currency:
        context.update(
            amount=Money(amount, currency).format(locale),
            amount_minor=str(amount),
            currency=currency,
        )
    context["invoices"] = [
        {
            "number": invoice.number,
            "due_date": _day(invoice.due_date, locale),
            "amount": Money(planned[invoice.id], invoice.currency).format(locale),
        }
        for invoice in invoices
    ]
    context["invoice_numbers"] = ", ".join(invoice.number for invoice in invoices)
    context["due_date"] = _day(min((i.due_date for i in invoices), default=None), locale)
    reminders_sent = (
        await _reminders_before(session, event) if event.name in TIME_TRIGGERS else None
    )
    customer_tags: tuple[str, ...] = ()
    if customer is not None:
        customer_tags = (
            tags.get(customer.id, ())
            if tags is not None
            else await customers.tags_of(session, customer.id)
        )
    facts = Facts(
        reminders_sent=reminders_sent,
        amount=amount,
        currency=currency,
        origin=origin,
        country=customer.country if customer is not None else None,
        language=language if customer is not None else None,
        tags=frozenset(customer_tags),
    )
    return EventData(context=context, facts=facts, customer=customer)
