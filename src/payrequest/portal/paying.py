"""A customer paying from the portal: the invoices they chose, all that is open on them or
(where the business allows it) part of it, asked for with one payment request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers import repository as customers
from payrequest.errors import NotFound, ValidationFailed
from payrequest.invoices import repository as invoices_repo
from payrequest.kit.money import Money, minor_digits, parse_money
from payrequest.ledger import repository as ledger_repo
from payrequest.ledger.repository import InvoiceWithBalance
from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.providers.base import UserFlow


@dataclass(frozen=True, slots=True)
class PortalPayment:
    customer_id: int
    invoice_ids: Sequence[int]
    flow: UserFlow
    phone: str | None = None  # E.164, for a push to the phone
    amount_text: str | None = None  # as typed (`1 234,50`); None or empty: all that is open
    partial_allowed: bool = False  # the business lets customers pay part of it
    save_phone: bool = False  # keep the number they share in the app (QR/app, no number known)
    provider: str | None = None  # the card provider's name for a card payment; None: MobilePay


async def open_invoices(
    session: AsyncSession, customer_id: int, invoice_ids: Sequence[int]
) -> list[InvoiceWithBalance]:
    """Those of the chosen invoices that are the customer's and still open, oldest due first."""
    chosen = set(invoice_ids)
    rows = await ledger_repo.invoices_with_balance(session, customer_id)
    return [r for r in rows if r.id in chosen and r.balance.open_amount > 0]


def minimum_part(currency: str) -> Money:
    """The least a part payment may be: one whole krone, euro (the full amount may be less)."""
    return Money(10 ** minor_digits(currency), currency)


def check_amount(amount: Money, open_total: Money, *, partial_allowed: bool) -> None:
    """An amount to pay of the open total: all of it, or a part when that is allowed."""
    if amount == open_total:
        return
    if not partial_allowed:
        raise ValidationFailed("Pay the whole amount, %(total)s", field="amount", total=open_total)
    if amount.amount <= 0:
        raise ValidationFailed("Enter an amount of more than zero", field="amount")
    if amount > open_total:
        raise ValidationFailed("You can pay at most %(total)s", field="amount", total=open_total)
    minimum = minimum_part(amount.currency)
    if amount < minimum:
        raise ValidationFailed(
            "A part payment must be at least %(minimum)s", field="amount", minimum=minimum
        )


async def _only_their_own(
    session: AsyncSession, customer_id: int, invoice_ids: Sequence[int]
) -> None:
    """Another customer's invoice is answered exactly like one that does not exist."""
    found = await invoices_repo.many(session, list(dict.fromkeys(invoice_ids)))
    if len(found) != len(set(invoice_ids)) or any(i.customer_id != customer_id for i in found):
        raise NotFound("One of the invoices does not exist")


async def start_payment(
    session: AsyncSession, *, payment: PortalPayment, lifetime: Lifetime
) -> PaymentRequest:
    """Check the amount against what is open now, then create the request (see
    `create_request`: an invoice another request is waiting on is refused there)."""
    await _only_their_own(session, payment.customer_id, payment.invoice_ids)
    amount = None
    typed = (payment.amount_text or "").strip()
    rows = await open_invoices(session, payment.customer_id, payment.invoice_ids) if typed else []
    if rows:
        total = Money(sum(r.balance.open_amount for r in rows), rows[0].currency)
        chosen = parse_money(typed, total.currency)
        check_amount(chosen, total, partial_allowed=payment.partial_allowed)
        amount = chosen.amount if chosen < total else None
    # Without a number on file, a QR or app payment asks the app for it (the customer sees a
    # consent screen there); it is kept only if they ticked "save my number" here.
    customer = await customers.get(session, payment.customer_id)
    share = (
        payment.provider is None
        and payment.flow is not UserFlow.push
        and customer is not None
        and not customer.phone
    )
    return await create_request(
        session,
        data=NewPaymentRequest(
            customer_id=payment.customer_id,
            invoice_ids=list(payment.invoice_ids),
            phone=payment.phone,
            user_flow=payment.flow,
            origin="portal",
            amount=amount,
            share_phone=share,
            save_phone=share and payment.save_phone,
            provider=payment.provider,
        ),
        lifetime=lifetime,
    )
