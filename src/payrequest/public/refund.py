"""The public refund: money sent back through the provider, from a paid request."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from payrequest.ledger.models import Refund
from payrequest.public.common import Amount, Currency, Timestamp
from payrequest.public.ids import public_id


class RefundObject(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    object: Literal["refund"] = "refund"
    payment_request: str
    payment: str  # the payment it gives back (part of)
    amount: Amount
    currency: Currency
    credit_amount: Amount  # the part taken from the customer's credit
    status: Literal["pending", "succeeded", "failed"]
    reason: str
    failure_message: str | None
    created: Timestamp
    finished: Timestamp | None


def refund_object(refund: Refund) -> RefundObject:
    return RefundObject(
        id=public_id("refund", refund.id),
        payment_request=public_id("payment_request", refund.payment_request_id),
        payment=public_id("payment", refund.payment_request_id),
        amount=refund.amount,
        currency=refund.currency,
        credit_amount=refund.credit_amount,
        status=refund.status,  # checked by the database
        reason=refund.reason,
        failure_message=refund.failure_message,
        created=refund.created_at,
        finished=refund.finished_at,
    )
