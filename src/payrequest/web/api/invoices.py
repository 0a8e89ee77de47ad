"""`/api/v1/invoices`: list (by customer and status), get, create, change while open, void,
upsert by external id."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query, Response, status
from pydantic import ConfigDict, Field

from payrequest.commands import invoices as commands
from payrequest.errors import NotFound
from payrequest.invoices import repository as invoices
from payrequest.invoices import upsert
from payrequest.invoices.models import Invoice
from payrequest.invoices.schemas import (
    ExternalId,
    InvoiceChanges,
    InvoiceUpsert,
    Lines,
    NewInvoice,
)
from payrequest.kit.clock import utcnow
from payrequest.ledger import repository as ledger
from payrequest.public.ids import row_id
from payrequest.public.invoice import InvoiceObject, invoice_object, invoice_objects
from payrequest.web.api.caller import CallerDep
from payrequest.web.api.lists import CursorDep, ListObject
from payrequest.web.api.problems import fields_named
from payrequest.web.api.route import api_router
from payrequest.web.deps import AsyncSession, ReadSessionDep, SessionDep

router = api_router(tags=["Invoices"])
InvoiceId = Annotated[str, Path(description="The invoice's id (`inv_...`).", max_length=40)]
ExternalIdPath = Annotated[
    str, Path(description="The business's own id of the invoice.", min_length=1, max_length=100)
]
StatusFilter = Literal["all", "open", "overdue", "paid", "void"]
API_FIELDS = {"customer_id": "customer"}  # the domain's name of a field -> the body's
LINE: dict[str, Any] = {
    "description": "Consulting, November",
    "quantity": "7.5",
    "unit_price": 95000,
    "vat_rate_bp": 2500,
}
EXAMPLE: dict[str, Any] = {
    "external_id": "ERP-INV-2026-0113",
    "customer_external_id": "ERP-10042",
    "number": "2026-0113",
    "reference": "20260113003",
    "issue_date": "2026-12-01",
    "due_date": "2026-12-15",
    "currency": "NOK",
    "lines": [LINE],
}
CustomerRef = Annotated[
    str | None, Field(description="The customer's id (`cus_...`).", max_length=40)
]


class InvoiceList(ListObject[InvoiceObject]):
    pass


class InvoiceCreate(InvoiceChanges):
    """A new invoice: its customer (`customer`, or the customer's own `customer_external_id`),
    a due date and lines at least. Without a number it gets the next free one, without an
    issue date today's, without a currency its customer's country's."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_extra={"examples": [EXAMPLE]}
    )

    customer: CustomerRef = None
    customer_external_id: ExternalId | None = None
    lines: Lines


class InvoiceUpdate(InvoiceChanges):
    """The fields to change; those left out are kept. Only while nothing is paid on the
    invoice and no payment request waits for it."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_extra={"examples": [{"due_date": "2026-12-31"}]}
    )


class InvoiceUpsertBody(InvoiceChanges):
    """The invoice's fields (its customer, a due date and lines at least when it is new); the
    external id is the path's. The customer cannot change once the invoice exists."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={"examples": [{k: v for k, v in EXAMPLE.items() if k != "external_id"}]},
    )

    customer: CustomerRef = None
    customer_external_id: ExternalId | None = None


def _given(body: InvoiceChanges) -> dict[str, Any]:
    """The fields the body gave, its `customer` id as ours (`customer_id`)."""
    given: dict[str, Any] = body.model_dump(include=body.model_fields_set)
    customer = given.pop("customer", None)
    if customer is not None:
        given["customer_id"] = row_id("customer", customer, field="customer")
    return given


async def _shown(session: AsyncSession, invoice: Invoice) -> InvoiceObject:
    """The invoice as the API shows it, read again with its lines and balance."""
    found = await invoices.get(session, invoice.id, with_lines=True)
    if found is None:
        raise NotFound("No such invoice")
    await session.refresh(found, ["lines"])
    return (await invoice_objects(session, [found]))[0]


@router.get("/invoices", response_model=InvoiceList, summary="List invoices")
async def list_invoices(
    caller: CallerDep,
    session: ReadSessionDep,
    cursor: CursorDep,
    customer: Annotated[
        str | None, Query(description="Only this customer's (`cus_...`).", max_length=40)
    ] = None,
    status_filter: Annotated[
        StatusFilter,
        Query(
            alias="status",
            description="open: open or partly paid; overdue: open past its due date.",
        ),
    ] = "all",
) -> InvoiceList:
    """The organisation's invoices, newest first."""
    rows = await ledger.invoice_rows_newest_first(
        session,
        before_id=cursor.before("invoice"),
        limit=cursor.fetch,
        status=status_filter,
        customer_id=row_id("customer", customer, field="customer") if customer else None,
        today=utcnow().date(),
    )
    shown, more = cursor.page(rows)
    return InvoiceList(data=[invoice_object(r.invoice, r.balance) for r in shown], has_more=more)


@router.post(
    "/invoices",
    response_model=InvoiceObject,
    status_code=status.HTTP_201_CREATED,
    summary="Create an invoice",
)
async def create_invoice(
    caller: CallerDep, session: SessionDep, body: InvoiceCreate
) -> InvoiceObject:
    with fields_named(API_FIELDS):
        created = await upsert.create_invoice(
            session, data=NewInvoice.model_validate(_given(body)), actor_id=None
        )
    return await _shown(session, created)


@router.get("/invoices/{invoice_id}", response_model=InvoiceObject, summary="Get an invoice")
async def get_invoice(
    caller: CallerDep, session: ReadSessionDep, invoice_id: InvoiceId
) -> InvoiceObject:
    found = await invoices.get(session, row_id("invoice", invoice_id), with_lines=True)
    if found is None:
        raise NotFound("No such invoice")
    return (await invoice_objects(session, [found]))[0]


@router.patch("/invoices/{invoice_id}", response_model=InvoiceObject, summary="Change an invoice")
async def change_invoice(
    caller: CallerDep, session: SessionDep, invoice_id: InvoiceId, body: InvoiceUpdate
) -> InvoiceObject:
    """Changes the fields given while the invoice is open: refused (409) once something is
    paid on it, while a payment request waits for it, or when it is void. The same values
    again change nothing."""
    changed = await commands.change_invoice(
        session,
        invoice_id=row_id("invoice", invoice_id),
        data=InvoiceChanges.model_validate(_given(body)),
        actor_id=None,
    )
    return await _shown(session, changed.row)


@router.post("/invoices/{invoice_id}/void", response_model=InvoiceObject, summary="Void an invoice")
async def void_invoice(
    caller: CallerDep, session: SessionDep, invoice_id: InvoiceId
) -> InvoiceObject:
    """Voids an invoice nobody has paid on and no payment request waits for (409 otherwise).
    Voiding a void invoice changes nothing."""
    voided = await commands.void_invoice(
        session, invoice_id=row_id("invoice", invoice_id), actor_id=None
    )
    return await _shown(session, voided)


@router.get(
    "/invoices/by-external-id/{external_id:path}",
    response_model=InvoiceObject,
    summary="Get an invoice by its external id",
)
async def get_invoice_by_external_id(
    caller: CallerDep, session: ReadSessionDep, external_id: ExternalIdPath
) -> InvoiceObject:
    found = await invoices.get_by_external_id(session, external_id)
    if found is None:
        raise NotFound("No such invoice")
    return (await invoice_objects(session, [found]))[0]


@router.put(
    "/invoices/by-external-id/{external_id:path}",
    response_model=InvoiceObject,
    responses={201: {"model": InvoiceObject, "description": "Created"}},
    summary="Create or change an invoice by its external id",
)
async def upsert_invoice(
    caller: CallerDep,
    session: SessionDep,
    external_id: ExternalIdPath,
    body: InvoiceUpsertBody,
    response: Response,
) -> InvoiceObject:
    """Creates the invoice with this external id (201), or changes the fields given (200)
    under the rules of a change. The same body again changes nothing, even once the invoice
    is paid."""
    data = InvoiceUpsert.model_validate({**_given(body), "external_id": external_id})
    with fields_named(API_FIELDS):
        done = await commands.upsert_invoice(session, data=data, actor_id=None)
    if done.created:
        response.status_code = status.HTTP_201_CREATED
    return await _shown(session, done.row)
