"""The event envelope, the same in `GET /api/v1/events` and in every outgoing webhook:
`{id, object, type, api_version, created, data: {object}}` (docs/api.md, "Events").

`data.object` is the public object the event is about, as it was built when the event was
read or sent. `api_version` names the shape of every object; a change that could break a
client comes with a new version (docs/api.md, "Versioning")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from payrequest.public.common import Timestamp
from payrequest.public.credit import CreditObject
from payrequest.public.customer import CustomerObject
from payrequest.public.ids import public_id
from payrequest.public.invoice import InvoiceObject
from payrequest.public.payment import AllocationObject, PaymentObject
from payrequest.public.payment_request import PaymentRequestObject
from payrequest.public.refund import RefundObject

API_VERSION: Final = "2026-12-01"

PublicObject = Annotated[
    CustomerObject
    | InvoiceObject
    | PaymentRequestObject
    | PaymentObject
    | AllocationObject
    | RefundObject
    | CreditObject,
    Field(discriminator="object"),
]


class EventData(BaseModel):
    model_config = ConfigDict(frozen=True)

    object: PublicObject


class EventObject(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    object: Literal["event"] = "event"
    type: str  # invoice.paid, payment_request.created, ...
    api_version: str = API_VERSION
    created: Timestamp
    data: EventData


def event_object(*, event_id: int, type: str, created: datetime, obj: PublicObject) -> EventObject:
    """The envelope of outbox event `event_id` (its id is the event's id everywhere: in the
    events list and in every webhook delivery of it, so receivers can drop duplicates)."""
    return EventObject(
        id=public_id("event", event_id), type=type, created=created, data=EventData(object=obj)
    )
