"""The public customer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers import repository
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
    tags: list[str] = Field(description="The customer's tags: lower case, sorted.")
    created: Timestamp
    updated: Timestamp


def customer_object(customer: Customer, tags: Sequence[str]) -> CustomerObject:
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
        tags=list(tags),
        created=customer.created_at,
        updated=customer.updated_at,
    )


async def customer_objects(
    session: AsyncSession, customers: Sequence[Customer]
) -> list[CustomerObject]:
    """The public objects of `customers`, in their order (their tags read in one query)."""
    tags = await repository.tags_by_customer(session, [c.id for c in customers])
    return [customer_object(c, tags.get(c.id, ())) for c in customers]


async def one_customer_object(session: AsyncSession, customer: Customer) -> CustomerObject:
    return (await customer_objects(session, [customer]))[0]
