"""Creating, sending, cancelling and retrying payment requests.

Services never commit and never talk to a provider while holding a transaction: a request is
written as `sending` with a send job in one transaction; the provider call happens after the
commit (inline from the web handler, or by the job if the process died), and its result comes
back through `apply`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers import repository as customers
from payrequest.errors import Conflict, CurrencyMismatch, NotFound, ValidationFailed
from payrequest.invoices import repository as invoices_repo
from payrequest.invoices.models import Invoice
from payrequest.jobs import queue
from payrequest.kit.clock import utcnow
from payrequest.kit.phone import parse_phone
from payrequest.ledger import repository as ledger_repo
from payrequest.payment_requests import references, repository
from payrequest.payment_requests.models import (
    PaymentRequest,
    PaymentRequestEvent,
    PaymentRequestInvoice,
)
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.state import RETRYABLE, Status
from payrequest.providers.base import Capabilities, UserFlow

SEND_JOB = "payment_requests.send"
FIRST_POLL_AFTER = timedelta(seconds=5)
STANDARD_LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Lifetime:
    """How long requests live: the configured default, within what the provider allows."""

    default_minutes: int
    capabilities: Capabilities

    def expires_in(self, requested_minutes: int | None) -> tuple[timedelta, bool]:
        """(lifetime, long_living) for a new request."""
        if not self.capabilities.long_living:
            return STANDARD_LIFETIME, False
        minutes = min(
            requested_minutes or self.default_minutes, self.capabilities.max_lifetime_minutes
        )
        if minutes <= 10:
            return STANDARD_LIFETIME, False
        return timedelta(minutes=minutes), True


def describe(invoices: Sequence[Invoice]) -> str:
    """`Invoice 10023, due 1 Feb 2027` or `Invoices 10023, 10024, due 1 Feb 2027` (≤ 100)."""
    due = min(i.due_date for i in invoices)
    label = "Invoice" if len(invoices) == 1 else "Invoices"
    numbers = ", ".join(i.number for i in invoices)
    text = f"{label} {numbers}, due {_day(due)}"
    if len(text) > 100:
        text = f"{len(invoices)} invoices, first due {_day(due)}"
    return text


def _day(value: date) -> str:
    return f"{value.day} {value.strftime('%b')} {value.year}"


async def create_request(
    session: AsyncSession, *, data: NewPaymentRequest, lifetime: Lifetime
) -> PaymentRequest:
    """Validate, then write the request as `sending` with its send job. Bad input writes
    nothing; an invoice already in an active request is refused by the database too."""
    customer = await customers.get(session, data.customer_id)
    if customer is None:
        raise NotFound("No such customer")
    invoices = await _open_invoices(session, customer_id=customer.id, ids=data.invoice_ids)
    currency = invoices[0].currency
    if any(i.currency != currency for i in invoices):
        raise CurrencyMismatch("All invoices in one request must have the same currency")
    if currency not in lifetime.capabilities.currencies:
        raise CurrencyMismatch(
            "Payments here can only be taken in %(currencies)s; this invoice is in %(currency)s",
            code="currency_not_payable",
            currencies=sorted(lifetime.capabilities.currencies),
            currency=currency,
        )
    busy = await repository.active_for_invoices(session, [i.id for i in invoices])
    if busy:
        numbers = [i.number for i in invoices if i.id in {link.invoice_id for link in busy}]
        raise Conflict(
            "Invoice %(numbers)s already has a payment request waiting for the customer",
            code="invoice_busy",
            numbers=numbers,
        )
    phone = parse_phone(data.phone, default_region=customer.country) if data.phone else None
    flow = data.user_flow or (UserFlow.push if phone else UserFlow.qr)
    if flow is UserFlow.push and phone is None:
        raise ValidationFailed("Enter the customer's mobile number", field="phone")
    balances = await ledger_repo.invoice_balances(session, invoices)
    planned = {i.id: balances[i.id].open_amount for i in invoices}
    duration, _ = lifetime.expires_in(data.lifetime_minutes)
    now = utcnow()
    request = PaymentRequest(
        reference=data.reference or references.new_reference(customer.number),
        customer_id=customer.id,
        currency=currency,
        amount=sum(planned.values()),
        phone=phone.e164 if phone else None,
        user_flow=flow.value,
        description=describe(invoices),
        status=Status.sending,
        origin=data.origin,
        created_by_user_id=data.created_by_user_id,
        expires_at=now + duration,
        next_poll_at=now + FIRST_POLL_AFTER,
        invoice_links=[
            PaymentRequestInvoice(invoice_id=i.id, currency=currency, planned_amount=planned[i.id])
            for i in invoices
        ],
        timeline=[
            PaymentRequestEvent(
                kind="state_changed",
                source="user",
                to_status="sending",
                occurred_at=now,
                details={},
            )
        ],
    )
    session.add(request)
    await session.flush()
    await queue.enqueue(
        session,
        kind=SEND_JOB,
        payload={"reference": request.reference},
        dedupe_key=f"send:{request.reference}",
        max_attempts=30,
    )
    return request


async def _open_invoices(
    session: AsyncSession, *, customer_id: int, ids: Sequence[int]
) -> list[Invoice]:
    unique_ids = list(dict.fromkeys(ids))
    # Locked, so an edit or void of the same invoice waits for this request (PostgreSQL).
    rows = await invoices_repo.many(session, unique_ids, for_update=True)
    if len(rows) != len(unique_ids):
        raise NotFound("One of the invoices does not exist")
    if any(i.customer_id != customer_id for i in rows):
        raise ValidationFailed("All invoices must belong to the customer")
    balances = await ledger_repo.invoice_balances(session, rows)
    closed = [i.number for i in rows if balances[i.id].open_amount <= 0]
    if closed:
        raise Conflict("Invoice %(numbers)s is not open", code="invoice_not_open", numbers=closed)
    return sorted(rows, key=lambda i: (i.due_date, i.id))


async def retry_request(
    session: AsyncSession,
    *,
    request_id: int,
    lifetime: Lifetime,
    created_by_user_id: int | None = None,
    phone: str | None = None,
) -> PaymentRequest:
    """A new request (new reference) for the invoices of a finished one that are still open."""
    old = await repository.get(session, request_id)
    if old is None:
        raise NotFound("No such payment request")
    if old.status not in RETRYABLE:
        raise Conflict("Only a failed, rejected, expired or cancelled request can be retried")
    links = await repository.links(session, old.id)
    invoices = await invoices_repo.many(session, [link.invoice_id for link in links])
    balances = await ledger_repo.invoice_balances(session, invoices)
    still_open = [i.id for i in invoices if balances[i.id].open_amount > 0]
    if not still_open:
        raise Conflict("The invoices of this request are no longer open")
    root_id = old.retry_of_id or old.id
    root = await repository.get(session, root_id)
    assert root is not None
    attempt = await repository.chain_length(session, root_id) + 1
    request = await create_request(
        session,
        data=NewPaymentRequest(
            customer_id=old.customer_id,
            invoice_ids=still_open,
            phone=phone or old.phone,
            user_flow=UserFlow(old.user_flow),
            origin=old.origin,
            created_by_user_id=created_by_user_id,
            reference=references.retry_reference(root.reference, attempt),
        ),
        lifetime=lifetime,
    )
    request.retry_of_id = root_id
    request.attempt = attempt
    await session.flush()
    return request
