"""The public event built from an outbox event when the webhooks publish it: the envelope of
`payrequest.public.event` with `data.object` the public object the outbox event is about
(`public.outbox.object_of`, as `GET /api/v1/events` builds it), as it is at that moment
(docs/webhooks.md, "Payload"). The JSON text is what every delivery and retry of the event
sends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers.models import Customer
from payrequest.events.models import OutboxEvent
from payrequest.invoices.models import Invoice
from payrequest.ledger.models import Credit, ManualPayment, Refund
from payrequest.payment_requests.models import PaymentRequest
from payrequest.public.event import event_object
from payrequest.public.outbox import object_of

# The row behind each kind of aggregate an outbox event names.
AGGREGATES: Final[dict[str, Any]] = {
    "customer": Customer,
    "invoice": Invoice,
    "payment_request": PaymentRequest,
    "credit": Credit,
    "refund": Refund,
    "manual_payment": ManualPayment,
}


@dataclass(frozen=True, slots=True)
class Built:
    event_id: str  # evt_<outbox event id>
    object_type: str  # as the API names it: invoice, payment_request, ...
    object_id: str  # the object's public id
    body: str  # the envelope as JSON


async def build(session: AsyncSession, event: OutboxEvent, kind: str) -> Built | None:
    """The public event `kind` made of `event`; None when its object no longer exists, or is
    not the event's organisation's (the fan-out reads acting for every organisation, so it
    checks the owner itself)."""
    if not await _owned_by(session, event):
        return None
    obj = await object_of(session, event.aggregate_type, event.aggregate_id)
    if obj is None:
        return None
    envelope = event_object(event_id=event.id, type=kind, created=event.created_at, obj=obj)
    return Built(envelope.id, obj.object, obj.id, envelope.model_dump_json())


async def _owned_by(session: AsyncSession, event: OutboxEvent) -> bool:
    model = AGGREGATES.get(event.aggregate_type)
    if model is None:
        return False
    owner = await session.scalar(
        select(model.organisation_id).where(model.id == event.aggregate_id)
    )
    return owner == event.organisation_id
