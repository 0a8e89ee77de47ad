"""Public payments (money that arrived: a payment request's capture, or a manual payment staff
recorded) and allocations (part of a payment or a credit applied to one invoice; a negative
one takes money back, e.g. for a refund)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict

from payrequest.ledger.models import Allocation, Credit, ManualPayment
from payrequest.payment_requests.models import PaymentRequest
from payrequest.public.common import Amount, Currency, Timestamp
from payrequest.public.ids import public_id


class AllocationObject(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    object: Literal["allocation"] = "allocation"
    invoice: str  # the invoice's id
    amount: Amount  # negative: taken back (a refund, an undone manual payment)
    currency: Currency
    payment: str | None  # the payment it comes from, or None when it is credit applied
    credit: str | None  # the credit it comes from
    refund: str | None  # the refund that took it back
    reversal: bool
    created: Timestamp


class PaymentObject(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    object: Literal["payment"] = "payment"
    source: Literal["provider", "manual"]
    customer: str
    amount: Amount  # what arrived
    currency: Currency
    refunded_amount: Amount
    provider: str | None  # source provider: vipps, stripe
    provider_reference: str | None  # the provider's key of the payment
    payment_request: str | None  # source provider: the request that captured it
    method: str | None  # source manual: bank_transfer, cash, card, other
    reference: str | None  # source manual: the bank reference (KID) staff gave
    received_on: date | None  # source manual: the day the money came
    allocations: list[AllocationObject]
    credit: str | None  # what was left over after its invoices, kept as customer credit
    created: Timestamp


def payment_id(allocation: Allocation) -> str | None:
    if allocation.payment_request_id is not None:
        return public_id("payment", allocation.payment_request_id)
    if allocation.manual_payment_id is not None:
        return public_id("manual_payment", allocation.manual_payment_id)
    return None


def allocation_object(allocation: Allocation) -> AllocationObject:
    return AllocationObject(
        id=public_id("allocation", allocation.id),
        invoice=public_id("invoice", allocation.invoice_id),
        amount=allocation.amount,
        currency=allocation.currency,
        payment=payment_id(allocation),
        credit=public_id("credit", allocation.credit_id) if allocation.credit_id else None,
        refund=public_id("refund", allocation.refund_id) if allocation.refund_id else None,
        reversal=allocation.reversal,
        created=allocation.created_at,
    )


def captured_payment_object(
    request: PaymentRequest, allocations: Sequence[Allocation], credit: Credit | None
) -> PaymentObject:
    """The money a paid (or since refunded) request captured: `allocations` and `credit` are
    the ledger's rows for it (ledger.repository.allocations_for_request, credit_for_request)."""
    return PaymentObject(
        id=public_id("payment", request.id),
        source="provider",
        customer=public_id("customer", request.customer_id),
        amount=request.captured_amount,
        currency=request.currency,
        refunded_amount=request.refunded_amount,
        provider=request.provider,
        provider_reference=request.provider_reference,
        payment_request=public_id("payment_request", request.id),
        method=None,
        reference=None,
        received_on=None,
        allocations=[allocation_object(a) for a in allocations],
        credit=public_id("credit", credit.id) if credit else None,
        created=request.finished_at or request.updated_at,
    )


def manual_payment_object(
    payment: ManualPayment, allocations: Sequence[Allocation], credit: Credit | None
) -> PaymentObject:
    return PaymentObject(
        id=public_id("manual_payment", payment.id),
        source="manual",
        customer=public_id("customer", payment.customer_id),
        amount=payment.amount,
        currency=payment.currency,
        refunded_amount=0,
        provider=None,
        provider_reference=None,
        payment_request=None,
        method=payment.method,
        reference=payment.reference,
        received_on=payment.received_on,
        allocations=[allocation_object(a) for a in allocations],
        credit=public_id("credit", credit.id) if credit else None,
        created=payment.created_at,
    )
