"""Public credit: money a customer has with the business (an overpayment), and a customer's
credit balance per currency."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from payrequest.ledger.models import Credit
from payrequest.public.common import Amount, Currency, Timestamp
from payrequest.public.ids import public_id


class CreditObject(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    object: Literal["credit"] = "credit"
    customer: str
    amount: Amount  # what it was when it arose
    available: Amount  # what is left: less what was applied to invoices or refunded
    currency: Currency
    payment: str | None  # the payment it was left over from
    reason: str
    voided: Timestamp | None  # its manual payment was undone: it no longer counts
    created: Timestamp


class CreditBalance(BaseModel):
    model_config = ConfigDict(frozen=True)

    currency: Currency
    available: Amount


class CustomerCreditObject(BaseModel):
    """A customer's credit: the balance per currency and the credits with money left."""

    model_config = ConfigDict(frozen=True)

    object: Literal["customer_credit"] = "customer_credit"
    customer: str
    balances: list[CreditBalance]
    credits: list[CreditObject]


def credit_object(credit: Credit, *, available: int) -> CreditObject:
    """`available` from the ledger (ledger.repository.credit_available)."""
    if credit.payment_request_id is not None:
        payment = public_id("payment", credit.payment_request_id)
    elif credit.manual_payment_id is not None:
        payment = public_id("manual_payment", credit.manual_payment_id)
    else:
        payment = None
    return CreditObject(
        id=public_id("credit", credit.id),
        customer=public_id("customer", credit.customer_id),
        amount=credit.amount,
        available=available,
        currency=credit.currency,
        payment=payment,
        reason=credit.reason,
        voided=credit.voided_at,
        created=credit.created_at,
    )
