"""A customer's own payments in the portal: pay chosen invoices (all that is open on them, or
part where the business allows it), try again after a payment ended, and look again at the
provider when they come back from paying.

Paying sends pushes, so each attempt counts against the customer's and the address's budget
(docs/goals.md#security, S4), in the transaction that creates the request: a refused or failed
attempt leaves no trace. The phone's own limit is counted where every request is created
(payment_requests.push_limits).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.commands.missing import Missing
from payrequest.commands.payment_requests import card_provider
from payrequest.commands.sending import Sent, send_now
from payrequest.customers.models import Customer
from payrequest.errors import PayrequestError
from payrequest.kit.phone import parse_phone
from payrequest.payment_requests import workflows
from payrequest.payment_requests.service import retry_request
from payrequest.payment_requests.state import ACTIVE
from payrequest.portal import paying, views
from payrequest.portal.paying import PortalPayment
from payrequest.providers.base import ProviderError, UserFlow
from payrequest.ratelimit import service as ratelimit
from payrequest.ratelimit.service import Limit
from payrequest.runtime import Runtime

CUSTOMER_LIMITS = (Limit(10, timedelta(hours=1)), Limit(30, timedelta(days=1)))
IP_LIMITS = (Limit(20, timedelta(hours=1)),)
# The ways to pay the pay page offers, and the flow each is sent with.
METHODS = {
    "push": UserFlow.push,
    "app": UserFlow.redirect,
    "qr": UserFlow.qr,
    "card": UserFlow.redirect,
}
POLL_BUDGET = 3.0  # seconds a page waits for the provider's answer before it shows what it has


async def check_limits(session: AsyncSession, *, customer_id: int, address: str) -> None:
    """Count this attempt against the customer's and the address's budget, atomically; a
    friendly refusal when either is spent."""
    checks = [(f"pay:customer:{customer_id}", CUSTOMER_LIMITS), (f"pay:ip:{address}", IP_LIMITS)]
    verdict = await ratelimit.take_all(session, checks)
    if not verdict.allowed:
        minutes = max(1, int((verdict.retry_after or timedelta()).total_seconds() // 60))
        raise PayrequestError(
            "You have asked for several payments in a short time. "
            "Please wait %(minutes)s minutes and try again.",
            code="rate_limited",
            minutes=minutes,
        )


@dataclass(frozen=True, slots=True)
class Payment:
    """What the customer chose on the pay page, as typed."""

    customer: Customer  # the signed-in customer
    address: str  # where the browser is (its IP address), for the address's budget
    invoice_ids: Sequence[int]
    method: str  # one of METHODS
    phone: str = ""  # for a push to the phone
    amount: str | None = None  # as typed (`1 234,50`); None or empty: all that is open
    partial_allowed: bool = False  # the business lets customers pay part of it
    save_phone: bool = False  # keep the number they share in the app


async def pay(runtime: Runtime, payment: Payment) -> Sent:
    """Create the request for the chosen invoices (`paying.start_payment`) and send it."""
    customer = payment.customer
    flow = METHODS.get(payment.method)
    phone = parse_phone(payment.phone, customer.country).e164 if flow is UserFlow.push else None
    if flow is None:
        raise PayrequestError("Choose how you want to pay")
    card = await card_provider(runtime) if payment.method == "card" else None
    if payment.method == "card" and card is None:
        raise PayrequestError("Card payments are not available here", code="no_card")
    lifetime = await (runtime.lifetime_for(card) if card else runtime.lifetime())
    async with runtime.sessions() as session, session.begin():
        await check_limits(session, customer_id=customer.id, address=payment.address)
        created = await paying.start_payment(
            session,
            payment=PortalPayment(
                customer_id=customer.id,
                invoice_ids=payment.invoice_ids,
                flow=flow,
                phone=phone,
                amount_text=payment.amount,
                partial_allowed=payment.partial_allowed,
                save_phone=payment.save_phone,
                provider=card,
            ),
            lifetime=lifetime,
        )
        reference = created.reference
    return await send_now(runtime, reference)


async def retry(runtime: Runtime, *, customer_id: int, address: str, reference: str) -> Sent:
    """A new attempt at one of the customer's payments that ended (Missing: not theirs). A
    card payment still open at the provider (they came back from its payment page, perhaps
    after a declined card) is withdrawn first, and the new one starts with a new page."""
    async with runtime.read_sessions() as session:
        found = await views.request_of(session, customer_id, reference)
    if found is None:
        raise Missing("No such payment request")
    if found.provider == runtime.providers.card_name and found.status in ACTIVE:
        await workflows.cancel(
            runtime.sessions, runtime.providers, request_id=found.id, user_id=None
        )
    lifetime = await runtime.lifetime_for(found.provider)
    async with runtime.sessions() as session, session.begin():
        await check_limits(session, customer_id=customer_id, address=address)
        new = await retry_request(session, request_id=found.id, lifetime=lifetime)
        new_reference = new.reference
    return await send_now(runtime, new_reference)


async def look_again(runtime: Runtime, *, customer_id: int, reference: str) -> None:
    """The customer is back from paying: ask the provider now where their waiting request
    stands, instead of waiting for its webhook or the next poll. A provider that is slow or
    away (more than POLL_BUDGET) leaves that to them; another's request is left alone."""
    async with runtime.read_sessions() as session:
        theirs = await views.request_of(session, customer_id, reference)
    if theirs is None or theirs.status != "pending":
        return
    with contextlib.suppress(ProviderError, PayrequestError, TimeoutError):
        await workflows.poll(
            runtime.sessions, runtime.providers, reference=reference, budget=POLL_BUDGET
        )
