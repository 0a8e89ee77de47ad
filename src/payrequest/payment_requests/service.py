"""Creating, sending, cancelling and retrying payment requests.

Services never commit and never talk to a provider while holding a transaction: a request is
written as `sending` with a send job in one transaction; the provider call happens after the
commit (inline from the web handler, or by the job if the process died), and its result comes
back through `apply`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.audit import service as audit
from payrequest.customers import repository as customers
from payrequest.errors import Conflict, CurrencyMismatch, NotFound, ValidationFailed
from payrequest.events import names, outbox
from payrequest.invoices import repository as invoices_repo
from payrequest.invoices.models import Invoice
from payrequest.invoices.status import InvoiceBalance
from payrequest.jobs import queue
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.kit.phone import parse_phone
from payrequest.ledger import repository as ledger_repo
from payrequest.ledger.allocation import OpenInvoice, plan_allocation
from payrequest.payment_requests import push_limits, references, repository
from payrequest.payment_requests.description import describe
from payrequest.payment_requests.models import (
    PaymentRequest,
    PaymentRequestEvent,
    PaymentRequestInvoice,
)
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.state import RETRYABLE, Status
from payrequest.providers.base import AccountRefusal, Capabilities, UserFlow

SEND_JOB = "payment_requests.send"
FIRST_POLL_AFTER = timedelta(seconds=5)

LIFETIME_MARGIN_MINUTES = 5
# Staff's choices of expiry, in minutes: 1 hour, 1 day, 7 days, 30 days (and a date of their
# own). Only those within what the provider allows, margins applied, are offered.
PRESET_MINUTES = (60, 24 * 60, 7 * 24 * 60, 30 * 24 * 60)


@dataclass(frozen=True, slots=True)
class Lifetime:
    """How long a new request stays open: the one home for these rules.

    The provider states its limits (`Capabilities`); here they get a margin of
    LIFETIME_MARGIN_MINUTES on each side, so that a clock a few minutes off (ours or the
    provider's) or a send that waits a little never makes the provider refuse the expiry as
    too late or too soon. A flow that cannot be long-living gets the standard lifetime.
    """

    default_minutes: int  # the setting; kept within the bounds (or the standard lifetime)
    capabilities: Capabilities
    # The provider whose limits these are (its name); None: whichever the request names.
    provider: str | None = None

    @property
    def standard(self) -> timedelta:
        return timedelta(minutes=self.capabilities.min_lifetime_minutes)

    def bounds(self, flow: UserFlow) -> tuple[int, int] | None:
        """(shortest, longest) lifetime in minutes of a long-living request of this flow;
        None when it can only have the standard lifetime."""
        caps = self.capabilities
        if not caps.long_living or flow not in caps.long_living_flows:
            return None
        shortest = caps.min_lifetime_minutes + LIFETIME_MARGIN_MINUTES
        longest = caps.max_lifetime_minutes - LIFETIME_MARGIN_MINUTES
        return (shortest, longest) if shortest <= longest else None

    def presets(self, flow: UserFlow) -> list[int]:
        """The preset lifetimes (minutes) a request of this flow may be given."""
        bounds = self.bounds(flow)
        if bounds is None:
            return []
        return [minutes for minutes in PRESET_MINUTES if bounds[0] <= minutes <= bounds[1]]

    def allows(self, minutes: int, flow: UserFlow) -> bool:
        """Whether a request of this flow may be given this lifetime (minutes)."""
        bounds = self.bounds(flow)
        if minutes == self.capabilities.min_lifetime_minutes:
            return True
        return bounds is not None and bounds[0] <= minutes <= bounds[1]

    def default_for(self, flow: UserFlow) -> timedelta:
        """The lifetime a request gets when nobody chose one."""
        return self.expires_in(None, flow)[0]

    def expires_in(
        self, requested_minutes: int | None, flow: UserFlow = UserFlow.push
    ) -> tuple[timedelta, bool]:
        """(lifetime, long_living) for a new request. A requested lifetime outside the
        bounds is refused; the configured default is brought within them."""
        bounds = self.bounds(flow)
        standard_minutes = self.capabilities.min_lifetime_minutes
        if requested_minutes is None:
            if bounds is None or self.default_minutes <= standard_minutes:
                return self.standard, False
            shortest, longest = bounds
            return timedelta(minutes=min(max(self.default_minutes, shortest), longest)), True
        if requested_minutes == standard_minutes:
            return self.standard, False
        if bounds is None:
            raise ValidationFailed(
                "This request can only stay open for the standard %(standard)s",
                field="lifetime",
                code="lifetime_standard_only",
                standard=self.standard,
            )
        if not bounds[0] <= requested_minutes <= bounds[1]:
            now = utcnow()
            raise ValidationFailed(
                "Choose an expiry between %(earliest)s and %(latest)s",
                field="lifetime",
                code="lifetime_out_of_range",
                earliest=now + timedelta(minutes=bounds[0]),
                latest=now + timedelta(minutes=bounds[1]),
            )
        return timedelta(minutes=requested_minutes), True


async def create_request(
    session: AsyncSession,
    *,
    data: NewPaymentRequest,
    lifetime: Lifetime,
    now: datetime | None = None,
) -> PaymentRequest:
    """Validate, then write the request as `sending` with its send job. Bad input writes
    nothing; an invoice already in an active request is refused by the database too.

    With `data.amount` below what is open (an instalment) the amount is planned over the
    invoices oldest due first, as the payment will be allocated; invoices it does not reach
    stay out of the request.

    `now`: when the request starts, its expiry counted from it (default: now; a reminder in
    sandbox mode passes the calendar's, which follows the emulator's clock, kit.clock.Calendar).
    """
    customer = await customers.get(session, data.customer_id)
    if customer is None:
        raise NotFound("No such customer")
    invoices = await _open_invoices(session, customer_id=customer.id, ids=data.invoice_ids)
    currency = _payable_currency(invoices, lifetime.capabilities)
    busy = await repository.active_for_invoices(session, [i.id for i in invoices])
    if busy:
        numbers = [i.number for i in invoices if i.id in {link.invoice_id for link in busy}]
        raise Conflict(
            "Invoice %(numbers)s already has a payment request waiting for the customer",
            code="invoice_busy",
            numbers=numbers,
        )
    provider = _provider_of(data, lifetime)
    flow = data.user_flow or (UserFlow.push if data.phone else UserFlow.qr)
    if not _offers(lifetime.capabilities, flow):
        raise ValidationFailed(
            "This way of paying is not available", field="flow", code="flow_not_available"
        )
    phone = None
    if flow is UserFlow.push:  # the other flows reach the customer through a code or link
        if not data.phone:
            raise ValidationFailed("Enter the customer's mobile number", field="phone")
        phone = parse_phone(data.phone, default_region=customer.country)
    balances = await ledger_repo.invoice_balances(session, invoices)
    open_total = sum(balances[i.id].open_amount for i in invoices)
    planned = _planned(invoices, balances, data.amount, currency)
    covered = [i for i in invoices if i.id in planned]
    duration, _ = lifetime.expires_in(data.lifetime_minutes, flow)
    if phone is not None:
        await push_limits.take(session, e164=phone.e164)
    now = now or utcnow()
    request = PaymentRequest(
        reference=data.reference or references.new_reference(customer.number),
        customer_id=customer.id,
        currency=currency,
        amount=sum(planned.values()),
        phone=phone.e164 if phone else None,
        user_flow=flow.value,
        description=describe(
            covered, language=customer.locale, part=sum(planned.values()) < open_total
        ),
        status=Status.sending,
        origin=data.origin,
        created_by_user_id=data.created_by_user_id,
        expires_at=now + duration,
        next_poll_at=now + FIRST_POLL_AFTER,
        # Without a number on file, a code or link payment asks the payer to share theirs
        # (through a provider that reaches phones at all: not a card payment).
        share_phone=lifetime.capabilities.push
        and (data.share_phone or (flow is not UserFlow.push and not customer.phone)),
        save_phone=data.save_phone,
        invoice_links=[
            PaymentRequestInvoice(invoice_id=i.id, currency=currency, planned_amount=planned[i.id])
            for i in covered
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
    if provider is not None:
        request.provider = provider
    session.add(request)
    await session.flush()
    await outbox.record(
        session,
        name=names.PAYMENT_REQUEST_SENDING,
        aggregate_type="payment_request",
        aggregate_id=request.id,
        customer_id=customer.id,
        payload={
            "reference": request.reference,
            "status": Status.sending.value,
            "amount": request.amount,
            "currency": currency,
            "origin": data.origin,
        },
    )
    await audit.record(
        session,
        action="payment_request.send",
        user_id=data.created_by_user_id,
        subject_type="payment_request",
        subject_id=request.id,
        details={
            "reference": request.reference,
            "amount": request.amount,
            "currency": currency,
            "origin": data.origin,
        },
    )
    await queue.enqueue(
        session,
        kind=SEND_JOB,
        payload={"reference": request.reference},
        dedupe_key=f"send:{request.reference}",
        max_attempts=30,
    )
    return request


def _provider_of(data: NewPaymentRequest, lifetime: Lifetime) -> str | None:
    """The provider the request goes through (None: the column's default): the one it names,
    whose limits `lifetime` must be."""
    if data.provider and lifetime.provider and data.provider != lifetime.provider:
        raise ValueError(
            f"a request through {data.provider!r} with the lifetime of {lifetime.provider!r}"
        )
    return data.provider or lifetime.provider


def _offers(capabilities: Capabilities, flow: UserFlow) -> bool:
    """Whether the provider reaches the payer this way."""
    return {
        UserFlow.push: capabilities.push,
        UserFlow.qr: capabilities.qr,
        UserFlow.redirect: capabilities.redirect,
    }[flow]


def _payable_currency(invoices: Sequence[Invoice], capabilities: Capabilities) -> str:
    currency = invoices[0].currency
    if any(i.currency != currency for i in invoices):
        raise CurrencyMismatch("All invoices in one request must have the same currency")
    if currency not in capabilities.currencies:
        raise CurrencyMismatch(
            "Payments here can only be taken in %(currencies)s; this invoice is in %(currency)s",
            code="currency_not_payable",
            currencies=sorted(capabilities.currencies),
            currency=currency,
        )
    return currency


def _planned(
    invoices: Sequence[Invoice],
    balances: Mapping[int, InvoiceBalance],
    amount: int | None,
    currency: str,
) -> dict[int, int]:
    """Invoice id -> the part of `amount` (None: everything open) asked for it, oldest due
    first; only invoices with a part are in it."""
    open_total = sum(balances[i.id].open_amount for i in invoices)
    if amount is not None and amount > open_total:
        raise ValidationFailed(
            "You can ask for at most %(open)s, what is open on these invoices",
            field="amount",
            code="amount_over_open",
            open=Money(open_total, currency),
        )
    plan = plan_allocation(
        open_total if amount is None else amount,
        [OpenInvoice(i.id, i.due_date, balances[i.id].open_amount) for i in invoices],
    )
    return dict(plan.parts)


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
    user_flow: UserFlow | None = None,
) -> PaymentRequest:
    """A new request (new reference) for the invoices of a finished one that are still open.

    Only the newest attempt of a chain can be retried. `phone` and `user_flow` change the
    number or the way the customer is reached (the same number would fail the same way);
    by default the new attempt keeps them, the amount of an instalment, and the lifetime
    staff chose when the new flow allows it. It goes through the same provider: `lifetime`
    must be that provider's (`Runtime.lifetime_for(old.provider)`).

    After a refusal about the provider account (`repository.refusal`) the new attempt avoids
    what was refused rather than being refused again: no push when push requests were refused
    (QR code / link by default), the standard lifetime when a longer one was.
    """
    old = await repository.get(session, request_id)
    if old is None:
        raise NotFound("No such payment request")
    if Status(old.status) not in RETRYABLE:
        raise Conflict("Only a failed, rejected, expired or cancelled request can be retried")
    root_id = old.retry_of_id or old.id
    newest = await repository.newest_in_chain(session, root_id, customer_id=old.customer_id)
    if newest.id != old.id:
        raise Conflict(
            "Only the newest attempt can be retried; %(reference)s is newer",
            code="not_newest_attempt",
            reference=newest.reference,
        )
    links = await repository.links(session, old.id)
    invoices = await invoices_repo.many(session, [link.invoice_id for link in links])
    balances = await ledger_repo.invoice_balances(session, invoices)
    still_open = [i.id for i in invoices if balances[i.id].open_amount > 0]
    if not still_open:
        raise Conflict("The invoices of this request are no longer open")
    open_total = sum(balances[i].open_amount for i in still_open)
    root = await repository.get(session, root_id)
    assert root is not None
    attempt = await repository.chain_length(session, root_id) + 1
    if user_flow is not None and not lifetime.capabilities.offers(user_flow):
        raise ValidationFailed(
            "This payment cannot be sent that way: retry it as it was sent",
            field="flow",
            code="flow_not_offered",
        )
    refused = await repository.refusal(session, old.id) if old.status == Status.failed else None
    flow = user_flow or (UserFlow.qr if refused is AccountRefusal.push else UserFlow(old.user_flow))
    if refused is AccountRefusal.push and flow is UserFlow.push:
        raise ValidationFailed(
            "Push requests are not allowed for this account at the payment provider; "
            "choose QR code / link",
            field="flow",
            code="push_refused",
        )
    kept_minutes = round((old.expires_at - old.created_at) / timedelta(minutes=1))
    if refused is AccountRefusal.long_living:
        kept_minutes = lifetime.capabilities.min_lifetime_minutes
    request = await create_request(
        session,
        data=NewPaymentRequest(
            customer_id=old.customer_id,
            invoice_ids=still_open,
            phone=(phone or old.phone) if flow is UserFlow.push else None,
            user_flow=flow,
            origin=old.origin,
            created_by_user_id=created_by_user_id,
            amount=old.amount if old.amount < open_total else None,
            lifetime_minutes=kept_minutes if lifetime.allows(kept_minutes, flow) else None,
            share_phone=old.share_phone and flow is not UserFlow.push,
            save_phone=old.save_phone,
            reference=references.retry_reference(root.reference, attempt),
            provider=old.provider,  # a card payment is retried as a card payment
        ),
        lifetime=lifetime,
    )
    request.retry_of_id = root_id
    request.attempt = attempt
    await session.flush()
    return request
