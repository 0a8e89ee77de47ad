"""A customer keyed by the business's own id (`external_id`): created when new, else the
fields given are changed and the others kept. The same data again changes nothing: no write,
no audit entry. Used by the API and the CSV import alike."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers import repository, service
from payrequest.customers.models import Customer
from payrequest.customers.schemas import CustomerInput, CustomerUpsert
from payrequest.errors import Conflict, ValidationFailed
from payrequest.kit.upserted import Upserted

# What an upsert may change, besides the number (which only changes when given).
_FIELDS = (
    "name",
    "email",
    "phone",
    "country",
    "locale",
    "portal_access",
    "organisation_number",
)


async def upsert_customer(
    session: AsyncSession, *, data: CustomerUpsert, actor_id: int | None
) -> Upserted[Customer]:
    customer = await repository.get_by_external_id(session, data.external_id)
    if customer is None:
        return Upserted(await _create(session, data, actor_id), created=True, changed=True)
    merged = merged_input(customer, data)
    unchanged = service.stored_values(merged) == _current(customer) and (
        merged.number is None or merged.number == customer.number
    )
    if unchanged:
        return Upserted(customer, created=False, changed=False)
    updated = await service.update_customer(
        session, customer_id=customer.id, data=merged, actor_id=actor_id
    )
    return Upserted(updated, created=False, changed=True)


def merged_input(customer: Customer, data: CustomerUpsert) -> CustomerInput:
    """The customer as stored with the fields `data` gives put over it."""
    given = data.model_dump(include=data.model_fields_set)
    values: dict[str, object] = {name: getattr(customer, name) for name in _FIELDS}
    values.update({name: value for name, value in given.items() if name in _FIELDS})
    return CustomerInput.model_validate(
        {**values, "external_id": customer.external_id, "number": given.get("number")}
    )


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
    if data.name is None:
        raise ValidationFailed("A new customer needs a name", field="name")
    given = data.model_dump(exclude_none=True)
    try:
        async with session.begin_nested():
            return await service.create_customer(
                session, data=CustomerInput.model_validate(given), actor_id=actor_id
            )
    except IntegrityError:
        # Another request created the same external id (or number) a moment ago.
        raise Conflict(
            "Another customer has the external id %(external_id)s",
            field="external_id",
            code="external_id_taken",
            external_id=data.external_id,
        ) from None
