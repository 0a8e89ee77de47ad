"""Customers: create and change (`customers.service`: bad input writes nothing, each change is
in the audit log with who made it)."""

from __future__ import annotations

from payrequest.commands.missing import Missing
from payrequest.customers import repository, service
from payrequest.customers.models import Customer
from payrequest.customers.schemas import CustomerInput
from payrequest.runtime import Runtime


async def create_customer(
    runtime: Runtime, data: CustomerInput, *, actor_id: int | None = None
) -> Customer:
    """A new customer; without a number it gets the next free one."""
    async with runtime.sessions() as session, session.begin():
        return await service.create_customer(session, data=data, actor_id=actor_id)


async def update_customer(
    runtime: Runtime, customer_id: int, data: CustomerInput, *, actor_id: int | None = None
) -> Customer:
    """Replace what is kept about the customer (Missing: no such customer)."""
    async with runtime.sessions() as session, session.begin():
        if await repository.get(session, customer_id) is None:
            raise Missing("No such customer")
        return await service.update_customer(
            session, customer_id=customer_id, data=data, actor_id=actor_id
        )
