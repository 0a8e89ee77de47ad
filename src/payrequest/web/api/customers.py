"""`/api/v1/customers`: list, get, create, change, upsert by external id, credit (read)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Response, status
from pydantic import ConfigDict

from payrequest.customers import repository as customers
from payrequest.customers import upsert
from payrequest.customers.models import Customer
from payrequest.customers.schemas import CustomerChanges, CustomerUpsert, Text200
from payrequest.errors import NotFound
from payrequest.public.credit import CustomerCreditObject, customer_credit
from payrequest.public.customer import CustomerObject, customer_objects, one_customer_object
from payrequest.public.ids import row_id
from payrequest.web.api.caller import CallerDep
from payrequest.web.api.lists import CursorDep, ListObject
from payrequest.web.api.route import api_router
from payrequest.web.deps import AsyncSession, ReadSessionDep, SessionDep

router = api_router(tags=["Customers"])
CustomerId = Annotated[str, Path(description="The customer's id (`cus_...`).", max_length=40)]
ExternalIdPath = Annotated[
    str, Path(description="The business's own id of the customer.", min_length=1, max_length=100)
]
EXAMPLE: dict[str, Any] = {
    "external_id": "ERP-10042",
    "name": "Fjordbakeriet AS",
    "organisation_number": "912345678",
    "email": "post@fjordbakeriet.no",
    "phone": "+47 912 34 567",
    "country": "NO",
    "locale": "nb",
    "tags": ["bakery", "vip"],
}


class CustomerList(ListObject[CustomerObject]):
    pass


class CustomerCreate(CustomerChanges):
    """A new customer: a name at least. `number` is given automatically when left out; the
    phone number may be typed as people do (`912 34 567`) and is kept as E.164."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_extra={"examples": [EXAMPLE]}
    )

    name: Text200


class CustomerUpdate(CustomerChanges):
    """The fields to change; those left out are kept, null clears one that may be empty."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_extra={"examples": [{"phone": "+4791234567"}]}
    )


class CustomerUpsertBody(CustomerUpdate):
    """The customer's fields (a name at least when it is new); the external id is the path's."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={"examples": [{k: v for k, v in EXAMPLE.items() if k != "external_id"}]},
    )


def _given(body: CustomerChanges) -> dict[str, object]:
    return body.model_dump(include=body.model_fields_set)


async def _customer(session: AsyncSession, customer_id: str) -> Customer:
    found = await customers.get(session, row_id("customer", customer_id))
    if found is None:
        raise NotFound("No such customer")
    return found


@router.get("/customers", response_model=CustomerList, summary="List customers")
async def list_customers(
    caller: CallerDep, session: ReadSessionDep, cursor: CursorDep
) -> CustomerList:
    """The organisation's customers, newest first."""
    rows = await customers.newest_first(
        session, before_id=cursor.before("customer"), limit=cursor.fetch
    )
    shown, more = cursor.page(rows)
    return CustomerList(data=await customer_objects(session, shown), has_more=more)


@router.post(
    "/customers",
    response_model=CustomerObject,
    status_code=status.HTTP_201_CREATED,
    summary="Create a customer",
)
async def create_customer(
    caller: CallerDep, session: SessionDep, body: CustomerCreate
) -> CustomerObject:
    created = await upsert.create_customer(
        session, data=CustomerChanges.model_validate(_given(body)), actor_id=None
    )
    return await one_customer_object(session, created)


@router.get("/customers/{customer_id}", response_model=CustomerObject, summary="Get a customer")
async def get_customer(
    caller: CallerDep, session: ReadSessionDep, customer_id: CustomerId
) -> CustomerObject:
    return await one_customer_object(session, await _customer(session, customer_id))


@router.patch(
    "/customers/{customer_id}", response_model=CustomerObject, summary="Change a customer"
)
async def change_customer(
    caller: CallerDep, session: SessionDep, customer_id: CustomerId, body: CustomerUpdate
) -> CustomerObject:
    """Changes the fields given; the same values again change nothing."""
    changed = await upsert.change_customer(
        session,
        customer_id=row_id("customer", customer_id),
        data=CustomerChanges.model_validate(_given(body)),
        actor_id=None,
    )
    return await one_customer_object(session, changed.row)


@router.get(
    "/customers/by-external-id/{external_id:path}",
    response_model=CustomerObject,
    summary="Get a customer by its external id",
)
async def get_customer_by_external_id(
    caller: CallerDep, session: ReadSessionDep, external_id: ExternalIdPath
) -> CustomerObject:
    found = await customers.get_by_external_id(session, external_id)
    if found is None:
        raise NotFound("No such customer")
    return await one_customer_object(session, found)


@router.put(
    "/customers/by-external-id/{external_id:path}",
    response_model=CustomerObject,
    responses={201: {"model": CustomerObject, "description": "Created"}},
    summary="Create or change a customer by its external id",
)
async def upsert_customer(
    caller: CallerDep,
    session: SessionDep,
    external_id: ExternalIdPath,
    body: CustomerUpsertBody,
    response: Response,
) -> CustomerObject:
    """Creates the customer with this external id (201), or changes the fields given (200).
    The same body again changes nothing."""
    data = CustomerUpsert.model_validate({**_given(body), "external_id": external_id})
    done = await upsert.upsert_customer(session, data=data, actor_id=None)
    if done.created:
        response.status_code = status.HTTP_201_CREATED
    return await one_customer_object(session, done.row)


@router.get(
    "/customers/{customer_id}/credit",
    response_model=CustomerCreditObject,
    summary="Get a customer's credit",
)
async def get_customer_credit(
    caller: CallerDep, session: ReadSessionDep, customer_id: CustomerId
) -> CustomerCreditObject:
    """What the customer has with the business (overpayments), per currency, and each credit
    with money left."""
    customer = await _customer(session, customer_id)
    return await customer_credit(session, customer.id)
