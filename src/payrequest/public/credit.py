"""Public credit: money a customer has with the business (an overpayment), and a customer's
credit balance per currency."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.ledger import read as ledger_read
from payrequest.ledger.models import Credit
from payrequest.ledger.read import LiveCredit
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


def _payment_of(payment_request_id: int | None, manual_payment_id: int | None) -> str | None:
    if payment_request_id is not None:
        return public_id("payment", payment_request_id)
    if manual_payment_id is not None:
        return public_id("manual_payment", manual_payment_id)
    return None


def credit_object(credit: Credit, *, available: int) -> CreditObject:
    """`available` from the ledger (ledger.repository.credit_available)."""
    payment = _payment_of(credit.payment_request_id, credit.manual_payment_id)
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


def customer_credit_object(customer_id: int, credits: Sequence[LiveCredit]) -> CustomerCreditObject:
    """`credits`: the customer's credits with money left (ledger.read.live_credits)."""
    balances: dict[str, int] = {}
    for credit in credits:
        balances[credit.currency] = balances.get(credit.currency, 0) + credit.available
    return CustomerCreditObject(
        customer=public_id("customer", customer_id),
        balances=[CreditBalance(currency=c, available=a) for c, a in sorted(balances.items())],
        credits=[
            CreditObject(
                id=public_id("credit", credit.id),
                customer=public_id("customer", customer_id),
                amount=credit.amount,
                available=credit.available,
                currency=credit.currency,
                payment=_payment_of(credit.payment_request_id, credit.manual_payment_id),
                reason=credit.reason,
                voided=None,
                created=credit.created_at,
            )
            for credit in credits
        ],
    )


async def customer_credit(session: AsyncSession, customer_id: int) -> CustomerCreditObject:
    return customer_credit_object(customer_id, await ledger_read.live_credits(session, customer_id))
