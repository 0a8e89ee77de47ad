"""`/api/v1/payment_requests`: create and send one (for invoices of a customer: all that is open
on them or an amount of it), list (by status and customer), get, cancel, retry, refund. Each
change goes through the command staff use (commands.payment_requests), which calls the
provider after its commit; a provider's failure is a 502 or 503 (web.api.provider_problems)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from payrequest.commands import payment_requests as commands
from payrequest.errors import NotFound
from payrequest.ledger.models import Refund
from payrequest.payment_requests import read, refunds, repository
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.providers.base import ProviderError, UserFlow
from payrequest.public.common import Amount
from payrequest.public.ids import row_id
from payrequest.public.payment_request import (
    Flow,
    PaymentRequestObject,
    PaymentRequestStatus,
    payment_request_object,
    payment_request_objects,
)
from payrequest.public.refund import RefundObject, refund_object
from payrequest.runtime import Runtime
from payrequest.web.api.caller import CallerDep
from payrequest.web.api.lists import CursorDep, ListObject
from payrequest.web.api.provider_problems import RESPONSES, provider_problem
from payrequest.web.api.route import api_router
from payrequest.web.deps import ReadSessionDep, RuntimeDep

router = api_router(tags=["Payment requests"])
PaymentRequestId = Annotated[
    str, Path(description="The payment request's id (`pr_...`).", max_length=40)
]
Id = Annotated[str, Field(max_length=40)]
Phone = Annotated[
    str | None,
    Field(
        max_length=32,
        description="The payer's mobile number for a push (`+47 912 34 567`, or as typed in "
        "the customer's country).",
    ),
]
EXAMPLE: dict[str, Any] = {
    "customer": "cus_42",
    "invoices": ["inv_7", "inv_9"],
    "flow": "push",
    "phone": "+47 912 34 567",
    "expiry_minutes": 1440,
}


class PaymentRequestList(ListObject[PaymentRequestObject]):
    pass


class PaymentRequestCreate(BaseModel):
    """One request to one customer for some of their open invoices in one currency: all that
    is open on them, or `amount` of it (an instalment, planned over the invoices oldest due
    first). Sent through `provider` (the organisation's own MobilePay by default, or its card
    provider's name), the way `flow` says: `push` to `phone`, a `qr` code, or a `redirect` to
    the provider's page (a card payment's always)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_extra={"examples": [EXAMPLE]}
    )

    customer: Id = Field(description="The customer's id (`cus_...`).")
    invoices: list[Id] = Field(
        min_length=1, max_length=200, description="The invoices' ids (`inv_...`), the customer's."
    )
    amount: Amount | None = Field(
        default=None, gt=0, description="Less than is open: an instalment. Default: all of it."
    )
    provider: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9_]{1,32}$",
        description="The provider's name (`vipps`, `stripe`); default: the organisation's own.",
    )
    flow: Flow | None = Field(
        default=None, description="Default: `push` with a phone, `qr` without; card: `redirect`."
    )
    phone: Phone = None
    expiry_minutes: int | None = Field(
        default=None,
        ge=10,
        le=60 * 24 * 60,
        description="How long the customer has, within what the provider allows. Default: "
        "the organisation's setting.",
    )


class RetryBody(BaseModel):
    """What to change for the new attempt; by default it is sent as the old one was."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flow: Flow | None = None
    phone: Phone = None


class RefundCreate(BaseModel):
    """Pay back all that is left of a paid request (no `amount`), or part of it."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_extra={"examples": [{"amount": 25000}]}
    )

    amount: Amount | None = Field(default=None, gt=0)
    reason: str = Field(default="Refund", min_length=1, max_length=200)


async def _shown(runtime: Runtime, request_id: int) -> PaymentRequestObject:
    """The request as it stands now, read in a session of its own (after the command's)."""
    async with runtime.read_sessions() as session:
        found = await repository.get(session, request_id)
        if found is None:
            raise NotFound("No such payment request")
        return payment_request_object(found, await repository.links(session, found.id))


def _flow(flow: str | None) -> UserFlow | None:
    return UserFlow(flow) if flow else None


@router.post(
    "/payment_requests",
    response_model=PaymentRequestObject,
    status_code=status.HTTP_201_CREATED,
    responses=RESPONSES,
    summary="Create and send a payment request",
)
async def create_payment_request(
    caller: CallerDep, runtime: RuntimeDep, body: PaymentRequestCreate
) -> PaymentRequestObject:
    """Creates the request and sends it to the provider at once. `status` says how far it
    got: `pending` (the customer has it; a QR code's or card page's link is `payment_url`),
    `sending` (the provider did not answer yet: it is sent again until it does), or `failed`
    (refused: `failure_code`)."""
    data = NewPaymentRequest(
        customer_id=row_id("customer", body.customer, field="customer"),
        invoice_ids=[row_id("invoice", i, field="invoices") for i in body.invoices],
        phone=body.phone if body.flow in (None, "push") else None,
        user_flow=_flow(body.flow),
        amount=body.amount,
        lifetime_minutes=body.expiry_minutes,
        origin="api",
        provider=body.provider,
    )
    sent = await commands.create_and_send(runtime, data)
    return await _shown(runtime, sent.id)


@router.get("/payment_requests", response_model=PaymentRequestList, summary="List payment requests")
async def list_payment_requests(
    caller: CallerDep,
    session: ReadSessionDep,
    cursor: CursorDep,
    status_filter: Annotated[
        PaymentRequestStatus | None, Query(alias="status", description="Only those in it.")
    ] = None,
    customer: Annotated[
        str | None, Query(description="Only this customer's (`cus_...`).", max_length=40)
    ] = None,
) -> PaymentRequestList:
    """The organisation's payment requests, newest first."""
    rows = await read.newest_first(
        session,
        limit=cursor.fetch,
        before_id=cursor.before("payment_request"),
        status=status_filter,
        customer_id=row_id("customer", customer, field="customer") if customer else None,
    )
    shown, more = cursor.page(rows)
    return PaymentRequestList(data=await payment_request_objects(session, shown), has_more=more)


@router.get(
    "/payment_requests/{request_id}",
    response_model=PaymentRequestObject,
    summary="Get a payment request",
)
async def get_payment_request(
    caller: CallerDep, runtime: RuntimeDep, request_id: PaymentRequestId
) -> PaymentRequestObject:
    return await _shown(runtime, row_id("payment_request", request_id))


@router.post(
    "/payment_requests/{request_id}/cancel",
    response_model=PaymentRequestObject,
    responses=RESPONSES,
    summary="Cancel a payment request",
)
async def cancel_payment_request(
    caller: CallerDep, runtime: RuntimeDep, request_id: PaymentRequestId
) -> PaymentRequestObject | JSONResponse:
    """Withdraws a request that waits for the customer (`sending` or `pending`), at the
    provider and here; 409 once it is past that (the customer may have approved just now:
    then it is paid instead)."""
    try:
        cancelled = await commands.cancel(runtime, request_id=row_id("payment_request", request_id))
    except ProviderError as error:
        return provider_problem(error)
    return await _shown(runtime, cancelled.id)


@router.post(
    "/payment_requests/{request_id}/retry",
    response_model=PaymentRequestObject,
    status_code=status.HTTP_201_CREATED,
    responses=RESPONSES,
    summary="Retry a payment request",
)
async def retry_payment_request(
    caller: CallerDep,
    runtime: RuntimeDep,
    request_id: PaymentRequestId,
    body: RetryBody | None = None,
) -> PaymentRequestObject:
    """A new request (`retry_of` names the first) for the invoices of one that ended
    (`failed`, `rejected`, `expired`, `cancelled`) and are still open, sent at once; only the
    newest attempt can be retried (409)."""
    changes = body or RetryBody()
    sent = await commands.retry(
        runtime,
        request_id=row_id("payment_request", request_id),
        phone=changes.phone,
        user_flow=_flow(changes.flow),
    )
    return await _shown(runtime, sent.id)


@router.post(
    "/payment_requests/{request_id}/refunds",
    response_model=RefundObject,
    status_code=status.HTTP_201_CREATED,
    responses=RESPONSES,
    summary="Refund a payment request",
)
async def refund_payment_request(
    caller: CallerDep, runtime: RuntimeDep, request_id: PaymentRequestId, body: RefundCreate
) -> RefundObject:
    """Pays back a paid request, all that is left of it or `amount`; never more than was
    captured and not yet refunded (422). `status` is `succeeded` or `failed` once the
    provider answered, `pending` while it is asked again."""
    refunded = await commands.refund(
        runtime,
        request_id=row_id("payment_request", request_id),
        amount=body.amount,
        reason=body.reason,
    )
    async with runtime.read_sessions() as session:
        found: Refund | None = await refunds.get(session, refunded.id)
    assert found is not None
    return refund_object(found)
