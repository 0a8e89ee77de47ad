"""The public event built from an outbox event: the envelope of `payrequest.public.event` with
`data.object`, the public object the outbox event is about (`aggregate_type` and
`aggregate_id`), as it is when the event is fanned out (docs/webhooks.md, "Payload"). The
JSON text is what every delivery and retry of the event sends."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers.models import Customer
from payrequest.events.models import OutboxEvent
from payrequest.invoices import repository as invoices
from payrequest.ledger import repository as ledger
from payrequest.ledger.models import Credit, Refund
from payrequest.payment_requests import repository as requests
from payrequest.public.credit import credit_object
from payrequest.public.customer import customer_object
from payrequest.public.event import PublicObject, event_object
from payrequest.public.invoice import invoice_objects
from payrequest.public.payment_request import payment_request_object
from payrequest.public.refund import refund_object


@dataclass(frozen=True, slots=True)
class Built:
    event_id: str  # evt_<outbox event id>
    object_type: str  # as the API names it: invoice, payment_request, ...
    object_id: str  # the object's public id
    body: str  # the envelope as JSON


async def build(session: AsyncSession, event: OutboxEvent, kind: str) -> Built | None:
    """The public event `kind` made of `event`; None when its object no longer exists (or
    is not the event's organisation's: the fan-out reads for every organisation)."""
    obj = await public_object(
        session, event.aggregate_type, event.aggregate_id, organisation_id=event.organisation_id
    )
    if obj is None:
        return None
    envelope = event_object(event_id=event.id, type=kind, created=event.created_at, obj=obj)
    return Built(envelope.id, obj.object, obj.id, envelope.model_dump_json())


async def public_object(
    session: AsyncSession, kind: str, row_id: int, *, organisation_id: int
) -> PublicObject | None:
    """The public object of an outbox event's aggregate, if it is `organisation_id`'s (None:
    unknown kind, gone, or another organisation's row)."""
    if kind == "payment_request":
        request = await requests.get(session, row_id)
        if request is None or request.organisation_id != organisation_id:
            return None
        return payment_request_object(request, await requests.links(session, row_id))
    if kind == "invoice":
        invoice = await invoices.get(session, row_id, with_lines=True)
        if invoice is None or invoice.organisation_id != organisation_id:
            return None
        return (await invoice_objects(session, [invoice]))[0]
    if kind == "credit":
        credit = await session.get(Credit, row_id)
        if credit is None or credit.organisation_id != organisation_id:
            return None
        return credit_object(credit, available=await ledger.credit_available(session, row_id))
    if kind == "refund":
        refund = await session.get(Refund, row_id)
        if refund is None or refund.organisation_id != organisation_id:
            return None
        return refund_object(refund)
    if kind == "customer":
        customer = await session.get(Customer, row_id)
        if customer is None or customer.organisation_id != organisation_id:
            return None
        return customer_object(customer)
    return None
