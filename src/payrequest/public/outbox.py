"""Events as the outside world reads them: an outbox event published as its public type
(`event_types`) in the envelope of `event`, its `data.object` the object it is about as it is
when read (GET /api/v1/events; the outgoing webhooks build theirs the same way, once, when
they publish the event: webhooks.objects)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers import repository as customers
from payrequest.events.models import OutboxEvent
from payrequest.invoices import repository as invoices
from payrequest.ledger import read as ledger_read
from payrequest.ledger import repository as ledger
from payrequest.ledger.models import Refund
from payrequest.payment_requests import repository as requests
from payrequest.public.credit import credit_object
from payrequest.public.customer import one_customer_object
from payrequest.public.event import EventObject, PublicObject, event_object
from payrequest.public.event_types import FROM_OUTBOX
from payrequest.public.invoice import invoice_objects
from payrequest.public.payment import manual_payment_object
from payrequest.public.payment_request import payment_request_objects
from payrequest.public.refund import refund_object

# The outbox events the outside world sees, each as its public type (the others are the
# product's own: automations, live pages).
PUBLIC_EVENTS: Final[tuple[str, ...]] = tuple(FROM_OUTBOX)


async def object_of(
    session: AsyncSession, aggregate_type: str, aggregate_id: int
) -> PublicObject | None:
    """The public object an event's aggregate is now; None when it is gone or has none."""
    if aggregate_type == "customer":
        customer = await customers.get(session, aggregate_id)
        return await one_customer_object(session, customer) if customer else None
    if aggregate_type == "invoice":
        invoice = await invoices.get(session, aggregate_id, with_lines=True)
        return (await invoice_objects(session, [invoice]))[0] if invoice else None
    if aggregate_type == "payment_request":
        request = await requests.get(session, aggregate_id)
        return (await payment_request_objects(session, [request]))[0] if request else None
    if aggregate_type == "credit":
        credit = (await ledger.credits_by_id(session, [aggregate_id])).get(aggregate_id)
        if credit is None:
            return None
        return credit_object(credit, available=await ledger.credit_available(session, credit.id))
    if aggregate_type == "refund":
        refund = await session.get(Refund, aggregate_id)
        return refund_object(refund) if refund else None
    if aggregate_type == "manual_payment":
        payment = (await ledger_read.manual_payments_by_id(session, [aggregate_id])).get(
            aggregate_id
        )
        if payment is None:
            return None
        return manual_payment_object(
            payment,
            await ledger.allocations_for_manual_payment(session, payment.id),
            await ledger.credit_for_manual_payment(session, payment.id),
        )
    return None


async def event_objects(session: AsyncSession, events: Sequence[OutboxEvent]) -> list[EventObject]:
    """The envelopes of `events`, in their order; an event whose object is gone, or that is
    not published, is left out."""
    found = []
    for event in events:
        kind = FROM_OUTBOX.get(event.name)
        shown = await object_of(session, event.aggregate_type, event.aggregate_id)
        if kind is not None and shown is not None:
            found.append(
                event_object(event_id=event.id, type=kind, created=event.created_at, obj=shown)
            )
    return found
