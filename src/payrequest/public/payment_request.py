"""The public payment request: what it asks for, of which invoices, and where it stands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.payment_requests import repository
from payrequest.payment_requests.models import PaymentRequest, PaymentRequestInvoice
from payrequest.public.common import Amount, Currency, Timestamp
from payrequest.public.ids import public_id

PaymentRequestStatus = Literal[
    "sending",
    "pending",
    "authorized",
    "paid",
    "refunded",
    "failed",
    "rejected",
    "expired",
    "cancelled",
]
Flow = Literal["push", "qr", "redirect"]


class RequestedInvoice(BaseModel):
    """An invoice the request asks payment of, and how much of it."""

    model_config = ConfigDict(frozen=True)

    invoice: str  # the invoice's id
    amount: Amount


class PaymentRequestObject(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    object: Literal["payment_request"] = "payment_request"
    reference: str  # our reference at the provider (`pr-C1001-...`)
    customer: str  # the customer's id
    status: PaymentRequestStatus
    amount: Amount
    currency: Currency
    provider: str  # vipps, stripe
    flow: Flow
    description: str
    invoices: list[RequestedInvoice]
    captured_amount: Amount
    refunded_amount: Amount
    failure_code: str | None
    retry_of: str | None  # the request this one retries
    expires_at: Timestamp
    created: Timestamp
    finished: Timestamp | None


def payment_request_object(
    request: PaymentRequest, links: Sequence[PaymentRequestInvoice]
) -> PaymentRequestObject:
    """`links`: the request's invoice links (`repository.links`)."""
    return PaymentRequestObject(
        id=public_id("payment_request", request.id),
        reference=request.reference,
        customer=public_id("customer", request.customer_id),
        status=request.status.value,
        amount=request.amount,
        currency=request.currency,
        provider=request.provider,
        flow=request.user_flow,  # checked by the database
        description=request.description,
        invoices=[
            RequestedInvoice(
                invoice=public_id("invoice", link.invoice_id), amount=link.planned_amount
            )
            for link in sorted(links, key=lambda link: link.invoice_id)
        ],
        captured_amount=request.captured_amount,
        refunded_amount=request.refunded_amount,
        failure_code=request.failure_code,
        retry_of=public_id("payment_request", request.retry_of_id) if request.retry_of_id else None,
        expires_at=request.expires_at,
        created=request.created_at,
        finished=request.finished_at,
    )


async def payment_request_objects(
    session: AsyncSession, requests: Sequence[PaymentRequest]
) -> list[PaymentRequestObject]:
    return [
        payment_request_object(request, await repository.links(session, request.id))
        for request in requests
    ]
