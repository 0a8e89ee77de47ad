"""Creating and changing customers. Services never commit: the caller owns the transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers import repository
from payrequest.customers.models import Customer
from payrequest.customers.schemas import CustomerInput
from payrequest.errors import Conflict, NotFound, ValidationFailed
from payrequest.kit.phone import parse_phone


def _normalised_phone(data: CustomerInput) -> str | None:
    if not data.phone or not data.phone.strip():
        return None
    return parse_phone(data.phone, default_region=data.country).e164


def _normalised_email(email: str | None) -> str | None:
    if not email:
        return None
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise ValidationFailed("“%(email)s” is not an email address", field="email", email=email)
    return email.lower()


async def create_customer(session: AsyncSession, *, data: CustomerInput) -> Customer:
    number = data.number or await repository.next_number(session)
    if await repository.get_by_number(session, number) is not None:
        raise Conflict(
            "Customer number %(number)s is already in use", field="number", number=number
        )
    customer = Customer(
        number=number,
        name=data.name,
        email=_normalised_email(data.email),
        phone=_normalised_phone(data),
        country=data.country,
        locale=data.locale,
        portal_access=data.portal_access,
    )
    session.add(customer)
    await session.flush()
    return customer


async def update_customer(
    session: AsyncSession, *, customer_id: int, data: CustomerInput
) -> Customer:
    customer = await repository.get(session, customer_id)
    if customer is None:
        raise NotFound("No such customer")
    if data.number and data.number != customer.number:
        if await repository.get_by_number(session, data.number) is not None:
            raise Conflict(
                "Customer number %(number)s is already in use", field="number", number=data.number
            )
        customer.number = data.number
    customer.name = data.name
    customer.email = _normalised_email(data.email)
    customer.phone = _normalised_phone(data)
    customer.country = data.country
    customer.locale = data.locale
    customer.portal_access = data.portal_access
    await session.flush()
    return customer
