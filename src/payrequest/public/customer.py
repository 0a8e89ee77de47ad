"""The public customer."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from payrequest.customers.models import Customer
from payrequest.public.common import Timestamp
from payrequest.public.ids import public_id


class CustomerObject(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    object: Literal["customer"] = "customer"
    external_id: str | None
    number: str
    name: str
    organisation_number: str | None
    email: str | None
    phone: str | None  # E.164
    country: str
    locale: str
    portal_access: bool
    created: Timestamp
    updated: Timestamp


def customer_object(customer: Customer) -> CustomerObject:
    return CustomerObject(
        id=public_id("customer", customer.id),
        external_id=customer.external_id,
        number=customer.number,
        name=customer.name,
        organisation_number=customer.organisation_number,
        email=customer.email,
        phone=customer.phone,
        country=customer.country,
        locale=customer.locale,
        portal_access=customer.portal_access,
        created=customer.created_at,
        updated=customer.updated_at,
    )
