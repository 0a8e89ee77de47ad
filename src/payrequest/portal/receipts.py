"""A payment's receipt: who sold, who paid, what it paid (invoice by invoice, refunds taken
back), the VAT in what it paid per rate, and the credit it left. The same receipt is shown to
the signed-in customer and to whoever holds the payment's signed receipt link.

The seller is the payment's organisation (its name, organisation number and address); a field
it leaves empty is taken from the installation's settings (`PAYREQUEST_BUSINESS__*`), which
named the one business before there were organisations."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from payrequest.config import BusinessSettings
from payrequest.customers.models import Customer
from payrequest.invoices.models import Invoice
from payrequest.invoices.vat import VatRow, add_up, paid_by_rate
from payrequest.ledger import repository as ledger_repo
from payrequest.ledger.models import Allocation, Credit
from payrequest.organisations.models import Organisation
from payrequest.payment_requests.models import PaymentRequest
from payrequest.portal.views import PAID


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    invoice: Invoice
    amount: int  # negative: taken back by a refund


@dataclass(frozen=True, slots=True)
class Seller:
    """Who was paid, as the receipt names them; an empty field is left off."""

    name: str
    organisation_number: str
    address: str


def seller_of(organisation: Organisation | None, fallback: BusinessSettings) -> Seller:
    """The organisation's own name, number and address; where one is empty, the settings'."""
    return Seller(
        name=(organisation.name if organisation else "") or fallback.name,
        organisation_number=(organisation.organisation_number if organisation else "")
        or fallback.organisation_number,
        address=(organisation.address if organisation else "") or fallback.address,
    )


@dataclass(frozen=True, slots=True)
class Receipt:
    payment: PaymentRequest
    payer: Customer
    seller: Seller
    lines: list[ReceiptLine]
    vat: list[VatRow]  # the VAT in what the payment paid on invoices, per rate
    credit: Credit | None  # what was paid beyond the invoices, kept for later


async def receipt_of(
    session: AsyncSession,
    reference: str,
    *,
    business: BusinessSettings,
    customer_id: int | None = None,
) -> Receipt | None:
    """The receipt of a paid (or refunded) payment of the session's organisation; None if
    there is none, or when `customer_id` is given and the payment is another customer's.
    `business`: the installation's seller, for what the organisation leaves empty."""
    stmt = select(PaymentRequest).where(
        PaymentRequest.reference == reference, PaymentRequest.status.in_(PAID)
    )
    if customer_id is not None:
        stmt = stmt.where(PaymentRequest.customer_id == customer_id)
    payment = (await session.execute(stmt)).scalar_one_or_none()
    if payment is None:
        return None
    payer = await session.get(Customer, payment.customer_id)
    assert payer is not None  # a foreign key
    allocations = await ledger_repo.allocations_for_request(session, payment.id)
    invoices = await _invoices(session, [a.invoice_id for a in allocations])
    organisation = await session.get(Organisation, payment.organisation_id)
    return Receipt(
        payment=payment,
        payer=payer,
        seller=seller_of(organisation, business),
        lines=[ReceiptLine(invoices[a.invoice_id], a.amount) for a in allocations],
        vat=_vat(allocations, invoices),
        credit=await ledger_repo.credit_for_request(session, payment.id),
    )


async def _invoices(session: AsyncSession, ids: list[int]) -> dict[int, Invoice]:
    stmt = select(Invoice).where(Invoice.id.in_(ids)).options(selectinload(Invoice.lines))
    return {invoice.id: invoice for invoice in (await session.execute(stmt)).scalars()}


def _vat(allocations: list[Allocation], invoices: dict[int, Invoice]) -> list[VatRow]:
    """The VAT in what was paid: per invoice, its part (all of it or in proportion)."""
    paid: dict[int, int] = defaultdict(int)
    for allocation in allocations:
        if allocation.amount > 0:  # what the payment paid; refunds are shown as lines
            paid[allocation.invoice_id] += allocation.amount
    return add_up(
        row
        for invoice_id, amount in paid.items()
        for row in paid_by_rate(invoices[invoice_id], amount)
    )
