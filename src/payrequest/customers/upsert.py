"""Changing a customer by the fields given, and the upsert keyed by the business's own id
(`external_id`): created when new, else the fields given are changed and the others kept.
The same data again changes nothing: no write, no audit entry. Used by the API and the CSV
import alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers import repository, service
from payrequest.customers.models import Customer
from payrequest.customers.schemas import CustomerChanges, CustomerInput, CustomerUpsert
from payrequest.customers.tags import clean_tags
from payrequest.errors import Conflict, NotFound, ValidationFailed
from payrequest.kit.upserted import Upserted

# What a change may set, besides the number (which only changes when given).
_FIELDS = (
    "name",
    "email",
    "phone",
    "country",
    "locale",
    "portal_access",
    "organisation_number",
    "external_id",
)


async def upsert_customer(
    session: AsyncSession, *, data: CustomerUpsert, actor_id: int | None
) -> Upserted[Customer]:
    customer = await repository.get_by_external_id(session, data.external_id)
    if customer is None:
        return Upserted(await _create(session, data, actor_id), created=True, changed=True)
    return await _change(session, customer, _given(data), actor_id)


async def change_customer(
    session: AsyncSession, *, customer_id: int, data: CustomerChanges, actor_id: int | None
) -> Upserted[Customer]:
    """Change the fields `data` gives (null clears one that may be empty); the same values
    again change nothing."""
    customer = await repository.get(session, customer_id)
    if customer is None:
        raise NotFound("No such customer")
    return await _change(session, customer, _given(data), actor_id)


async def create_customer(
    session: AsyncSession, *, data: CustomerChanges, actor_id: int | None
) -> Customer:
    """A new customer from the fields given (a name at least)."""
    if data.name is None:
        raise ValidationFailed("A new customer needs a name", field="name")
    try:
        async with session.begin_nested():
            return await service.create_customer(
                session,
                data=CustomerInput.model_validate(data.model_dump(exclude_none=True)),
                actor_id=actor_id,
            )
    except IntegrityError:
        # Another request took the same external id (or number) a moment ago.
        raise _taken(data.external_id or "") from None


def _given(data: CustomerChanges | CustomerUpsert) -> dict[str, Any]:
    return data.model_dump(include=data.model_fields_set)


async def _change(
    session: AsyncSession, customer: Customer, given: Mapping[str, Any], actor_id: int | None
) -> Upserted[Customer]:
    merged = merged_input(customer, given)
    unchanged = (
        service.stored_values(merged) == _current(customer)
        and (merged.number is None or merged.number == customer.number)
        and (
            merged.tags is None
            or clean_tags(merged.tags) == await repository.tags_of(session, customer.id)
        )
    )
    if unchanged:
        return Upserted(customer, created=False, changed=False)
    updated = await service.update_customer(
        session, customer_id=customer.id, data=merged, actor_id=actor_id
    )
    return Upserted(updated, created=False, changed=True)


def merged_input(customer: Customer, given: Mapping[str, Any]) -> CustomerInput:
    """The customer as stored with the `given` fields put over it; its tags only when given
    (null: none), else None (kept)."""
    values: dict[str, object] = {name: getattr(customer, name) for name in _FIELDS}
    values.update({name: value for name, value in given.items() if name in _FIELDS})
    if values["name"] is None:
        raise ValidationFailed("A customer needs a name", field="name")
    if values["country"] is None:
        values["country"] = customer.country
    if values["locale"] is None:
        values["locale"] = customer.locale
    if values["portal_access"] is None:
        values["portal_access"] = customer.portal_access
    tags = (given["tags"] or []) if "tags" in given else None
    return CustomerInput.model_validate({**values, "number": given.get("number"), "tags": tags})


def _current(customer: Customer) -> dict[str, object]:
    return {
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "country": customer.country,
        "locale": customer.locale,
        "portal_access": customer.portal_access,
        "external_id": customer.external_id,
        "organisation_number": customer.organisation_number,
    }


async def _create(session: AsyncSession, data: CustomerUpsert, actor_id: int | None) -> Customer:
    return await create_customer(
        session, data=CustomerChanges.model_validate(data.model_dump()), actor_id=actor_id
    )


def _taken(external_id: str) -> Conflict:
    return Conflict(
        "Another customer has the external id %(external_id)s",
        field="external_id",
        code="external_id_taken",
        external_id=external_id,
    )
