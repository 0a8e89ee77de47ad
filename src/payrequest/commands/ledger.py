"""Money that does not come through a payment request: record a payment received by hand (a
bank transfer, cash, ...), undo one, apply customer credit to open invoices, and take one
application of credit back. Each runs in the caller's transaction (bad input raises before
anything is written) and returns what the ledger did (`ledger.manual`, `ledger.credit`,
`ledger.take_back`) for the caller to describe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.commands.missing import Missing
from payrequest.customers import repository as customers
from payrequest.customers.models import Customer
from payrequest.db.scope import organisation_of_scope
from payrequest.kit.markets import currency_of
from payrequest.kit.money import Money, parse_money
from payrequest.ledger import credit as credits
from payrequest.ledger import manual, take_back
from payrequest.ledger.manual import Actor
from payrequest.organisations import service as organisations
from payrequest.payment_requests.repository import invoices_in_active_requests

__all__ = [
    "Actor",
    "CreditToApply",
    "PaymentReceived",
    "apply_credit",
    "record_payment",
    "take_back_credit",
    "undo_payment",
]


@dataclass(frozen=True, slots=True)
class PaymentReceived:
    """A payment the business received outside the provider."""

    customer_id: int
    amount: int | str  # minor units, or as typed (`1 234,50`) in `currency`
    received_on: date
    method: str  # ledger.models.MANUAL_METHODS
    currency: str | None = None  # None: the currency of the customer's country
    reference: str = ""  # the bank's reference, KID, receipt number
    note: str = ""
    invoice_ids: tuple[int, ...] | None = None  # None: open invoices, oldest due first
    recorded_by: int | None = None  # users.id


def _money(amount: int | str, currency: str) -> Money:
    return Money(amount, currency) if isinstance(amount, int) else parse_money(amount, currency)


async def _customer(session: AsyncSession, customer_id: int) -> Customer:
    customer = await customers.get(session, customer_id)
    if customer is None:
        raise Missing("No such customer")
    return customer


async def record_payment(session: AsyncSession, payment: PaymentReceived) -> manual.Recorded:
    """Record it and place its money (`manual.record`); what is left over goes to the other
    open invoices at once where the organisation applies credit automatically. Missing: no
    such customer."""
    customer = await _customer(session, payment.customer_id)
    organisation = await organisations.get(session, organisation_of_scope())
    currency = payment.currency or currency_of(customer.country)
    return await manual.record(
        session,
        data=manual.NewManualPayment(
            customer_id=customer.id,
            amount=_money(payment.amount, currency),
            received_on=payment.received_on,
            method=payment.method,
            reference=payment.reference,
            note=payment.note,
            invoice_ids=payment.invoice_ids,
            recorded_by=payment.recorded_by,
        ),
        in_requests=invoices_in_active_requests,
        auto_apply=organisation.auto_apply_credit,
    )


async def undo_payment(
    session: AsyncSession, *, payment_id: int, actor: Actor, reason: str
) -> manual.Undone:
    """Take a manual payment back (`manual.undo`; idempotent)."""
    return await manual.undo(session, payment_id=payment_id, actor=actor, reason=reason)


@dataclass(frozen=True, slots=True)
class CreditToApply:
    """Customer credit to spend on open invoices."""

    customer_id: int
    currency: str | None = None  # None: the currency of the customer's country
    amount: int | str | None = None  # minor units or as typed; None: as much as is open
    invoice_ids: tuple[int, ...] | None = None  # None: open invoices, oldest due first
    applied_by: int | None = None  # users.id


async def apply_credit(session: AsyncSession, credit: CreditToApply) -> credits.Applied:
    """Apply the customer's credit (`credit.apply_credit`: oldest credit first). Missing: no
    such customer."""
    customer = await _customer(session, credit.customer_id)
    currency = credit.currency or currency_of(customer.country)
    amount = credit.amount
    if isinstance(amount, str):
        amount = _money(amount, currency).amount if amount.strip() else None
    return await credits.apply_credit(
        session,
        customer_id=customer.id,
        currency=currency,
        amount=amount,
        invoice_ids=credit.invoice_ids,
        in_requests=invoices_in_active_requests,
        applied_by=credit.applied_by,
    )


async def take_back_credit(
    session: AsyncSession, *, allocation_id: int, actor: Actor, reason: str
) -> take_back.TakenBack:
    """Take back one application of credit (`take_back.take_back`; idempotent)."""
    return await take_back.take_back(
        session, allocation_id=allocation_id, actor=actor, reason=reason
    )
