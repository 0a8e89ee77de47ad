"""Talking to the provider about one request: send, capture, cancel, poll.

These own their transactions, because the provider is called *between* them: read what is
needed in a short transaction, call the provider with no lock held, then apply the answer with
the request locked (`apply`). Each step is idempotent; a crash between steps is repaired by the
send/capture jobs and the poller, which call the same functions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from payrequest.audit import service as audit
from payrequest.customers import repository as customers
from payrequest.errors import N_, Conflict, NotFound
from payrequest.invoices.models import Invoice
from payrequest.jobs.context import RetryAt
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.kit.phone import Phone
from payrequest.ledger import repository as ledger_repo
from payrequest.payment_requests import apply, poll_schedule, references, repository, withdraw
from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.receipt import order_lines
from payrequest.payment_requests.service import LIFETIME_MARGIN_MINUTES
from payrequest.payment_requests.state import ACTIVE, Status
from payrequest.providers.base import (
    AlreadyAuthorized,
    Capabilities,
    CreatePayment,
    OutcomeUnknown,
    PaymentNotFound,
    PaymentProvider,
    PaymentProviders,
    ProviderError,
    TryAgainLater,
    UserFlow,
)

Sessions = async_sessionmaker[AsyncSession]
# A job that calls the provider: each call with its retries ends within 20 s (client.py), so
# the two calls of a capture (the capture, then GET payment) fit inside.
JOB_TIMEOUT = timedelta(seconds=50)
# Added to a wait the provider asked for, so that the job does not come back a moment early.
WAIT_MARGIN = timedelta(seconds=1)


@contextmanager
def waits_in_the_queue() -> Iterator[None]:
    """In a job handler: the provider's "try again in N seconds" (TryAgainLater) reschedules
    the job at that time (RetryAt), to send the same call with the same idempotency key."""
    try:
        yield
    except TryAgainLater as exc:
        raise RetryAt(utcnow() + exc.retry_after + WAIT_MARGIN, str(exc)) from exc


# A long-living request whose send was held up (a provider outage, a rate limit) until less
# than the shortest lifetime plus the margin is left: its expiry would be refused as too soon.
TOO_LATE = N_("The request could not be sent before its expiry came too close; send a new one")


@dataclass(frozen=True, slots=True)
class SendPlan:
    create: CreatePayment | None  # None: nothing to send (not `sending` any more)
    too_late: bool = False  # held up until its expiry came too close to send it


async def _plan_send(
    sessions: Sessions, reference: str, return_url: str | None, capabilities: Capabilities
) -> SendPlan:
    async with sessions() as session:
        request = await repository.by_reference(session, reference)
        if request is None or Status(request.status) is not Status.sending:
            return SendPlan(None)
        customer = await customers.get(session, request.customer_id)
        assert customer is not None
        links = await repository.links(session, request.id)
        planned = {link.invoice_id: link.planned_amount for link in links}
        invoices = await _invoices_with_lines(session, list(planned))
        balances = await ledger_repo.invoice_balances(session, invoices)
        flow = UserFlow(request.user_flow)
        standard = timedelta(minutes=capabilities.min_lifetime_minutes)
        long_living = (
            flow in capabilities.long_living_flows
            and request.expires_at - request.created_at > standard
        )
        margin = timedelta(minutes=LIFETIME_MARGIN_MINUTES)
        if long_living and request.expires_at - utcnow() < standard + margin:
            return SendPlan(None, too_late=True)
        return SendPlan(
            CreatePayment(
                reference=request.reference,
                amount=Money(request.amount, request.currency),
                description=request.description,
                user_flow=flow,
                idempotency_key=references.idempotency_key(request.reference, "create"),
                phone_msisdn=Phone(request.phone, "").msisdn if request.phone else None,
                expires_at=request.expires_at if long_living else None,
                # Only the redirect flow returns to us; leave it out otherwise so that every
                # sender (inline, job, retry) sends the same body with the same key.
                return_url=(
                    f"{return_url}?reference={request.reference}"
                    if return_url and flow is UserFlow.redirect
                    else None
                ),
                order_lines=order_lines(
                    invoices,
                    planned,
                    open_amounts={i.id: balances[i.id].open_amount for i in invoices},
                    language=customer.locale,
                ),
                metadata={"customer": str(request.customer_id)},
                share_phone=request.share_phone,
                # For a hosted payment page (a card payment's): the customer's language, and
                # their address prefilled. The app of a push/QR payment ignores both.
                locale=customer.locale,
                email=customer.email or None,
            )
        )


async def _invoices_with_lines(session: AsyncSession, ids: list[int]) -> list[Invoice]:
    stmt = (
        select(Invoice)
        .where(Invoice.id.in_(ids))
        .options(selectinload(Invoice.lines))
        .order_by(Invoice.due_date, Invoice.id)
    )
    return list((await session.execute(stmt)).scalars())


async def send(
    sessions: Sessions,
    providers: PaymentProviders,
    *,
    reference: str,
    return_url: str | None = None,
) -> bool:
    """Create the payment at the request's provider. Raises OutcomeUnknown to be tried again
    later. Returns False when the provider refused it for good (the request is failed, with
    why)."""
    found = await _at_provider(sessions, providers, reference)
    if found is None:
        return True
    provider, _key = found
    plan = await _plan_send(sessions, reference, return_url, provider.capabilities)
    if plan.too_late:
        await _fail(sessions, reference, apply.Failure(None, TOO_LATE))
        return False
    if plan.create is None:
        return True
    try:
        created = await provider.create_payment(plan.create)
    except OutcomeUnknown:
        raise
    except ProviderError as exc:
        if exc.retryable:
            raise
        await _fail(sessions, reference, apply.Failure(exc.code, exc.message, exc.refusal))
        return False
    async with sessions() as session, session.begin():
        result = await apply.apply_outcome(
            session,
            reference=reference,
            target=Status.pending,
            source="system",
            redirect_url=created.redirect_url,
            provider_reference=created.key_at_provider,
        )
        if result.request is not None and result.request.status not in ACTIVE:
            # It ended (cancelled) while the create was on its way: the payment is unwanted.
            await withdraw.withdraw_later(session, result.request)
    return True


async def _fail(sessions: Sessions, reference: str, failure: apply.Failure) -> None:
    async with sessions() as session, session.begin():
        await apply.apply_outcome(
            session, reference=reference, target=Status.failed, source="system", failure=failure
        )


async def capture(
    sessions: Sessions,
    providers: PaymentProviders,
    *,
    reference: str,
    apply_in: AsyncSession | None = None,
) -> None:
    """Capture the whole amount of an authorized request (idempotency key from the reference).

    Retryable failures raise, so the job tries again with the same key; a refusal marks the
    request failed and tells staff. `apply_in` lets a job apply in its own transaction.
    """
    async with sessions() as session:
        request = await repository.by_reference(session, reference)
        if request is None or request.status != Status.authorized:
            return
        amount = Money(request.amount, request.currency)
        name, key = request.provider, request.key_at_provider
    provider = await providers.named(name)
    try:
        snapshot = await provider.capture(
            key, amount, idempotency_key=references.idempotency_key(reference, "capture")
        )
    except ProviderError as exc:
        if exc.retryable:
            raise
        snapshot = None
        failure = apply.Failure(exc.code, exc.message, exc.refusal)
    async with _transaction(sessions, apply_in) as session:
        if snapshot is not None:
            await apply.apply_snapshot(session, snapshot=snapshot, source="system")
        else:
            await apply.apply_outcome(
                session,
                reference=reference,
                target=Status.failed,
                source="system",
                failure=failure,
            )


async def cancel(
    sessions: Sessions, providers: PaymentProviders, *, request_id: int, user_id: int | None
) -> PaymentRequest:
    """Staff or the customer withdraws a pending request."""
    async with sessions() as session:
        request = await repository.get(session, request_id)
        if request is None:
            raise NotFound("No such payment request")
        if request.status not in (Status.sending, Status.pending):
            raise Conflict("Only a request that is waiting for the customer can be cancelled")
        reference, name, key = request.reference, request.provider, request.key_at_provider
    provider = await providers.named(name)
    try:
        snapshot = await provider.cancel(
            key, idempotency_key=references.idempotency_key(reference, "cancel")
        )
    except PaymentNotFound:
        snapshot = None  # never reached the provider: cancelling is ours alone
    except AlreadyAuthorized as exc:
        raise Conflict(
            "The customer approved just now; the payment will be captured instead"
        ) from exc
    async with sessions() as session, session.begin():
        if snapshot is not None:
            result = await apply.apply_snapshot(session, snapshot=snapshot, source="user")
        else:
            result = await apply.apply_outcome(
                session,
                reference=reference,
                target=Status.cancelled,
                source="user",
                note=N_("Cancelled by staff") if user_id else N_("Cancelled"),
            )
        await audit.record(
            session,
            action="payment_request.cancel",
            user_id=user_id,
            subject_type="payment_request",
            subject_id=request_id,
            details={"reference": reference},
        )
        assert result.request is not None
        return result.request


async def poll(
    sessions: Sessions,
    providers: PaymentProviders,
    *,
    reference: str,
    apply_in: AsyncSession | None = None,
    budget: float | None = None,
) -> None:
    """Ask the provider where the payment stands and apply it (the webhook safety net), and
    set when to ask again (`poll_schedule`). `budget`: the most seconds to wait for the
    provider; past it, TimeoutError and nothing is changed."""
    found = await _at_provider(sessions, providers, reference)
    if found is None:
        return
    provider, key = found
    try:
        async with asyncio.timeout(budget):
            snapshot = await provider.get_payment(key)
    except PaymentNotFound:
        snapshot = None
    async with _transaction(sessions, apply_in) as session:
        if snapshot is not None:
            result = await apply.apply_snapshot(session, snapshot=snapshot, source="poll")
            request = result.request
        else:
            request = await repository.lock(session, reference=reference)
        if request is not None and request.status in ACTIVE:
            schedule_next_poll(request)


def schedule_next_poll(request: PaymentRequest, *, at_least: timedelta = timedelta(0)) -> None:
    """Count a poll of `request` (answered or not) and set its next one."""
    now = utcnow()
    delay = poll_schedule.next_poll_delay(
        status=request.status, created_at=request.created_at, now=now
    )
    request.poll_count += 1
    request.next_poll_at = now + max(delay, at_least)


class PayerPhoneNotYetKnown(Exception):
    """The payment still comes without the number its payer shared: try again later."""


async def learn_phone_again(
    sessions: Sessions, providers: PaymentProviders, *, reference: str, apply_in: AsyncSession
) -> None:
    """Read an approved payment again for the number its payer shared (`phones.learn_later`).
    Raises PayerPhoneNotYetKnown while the provider's answer still lacks it, so the job backs
    off and tries again."""
    found = await _at_provider(sessions, providers, reference)
    if found is None:
        return
    provider, key = found
    snapshot = await provider.get_payment(key)
    result = await apply.apply_snapshot(apply_in, snapshot=snapshot, source="poll")
    if result.request is not None and result.request.payer_phone is None:
        raise PayerPhoneNotYetKnown(reference)


async def _at_provider(
    sessions: Sessions, providers: PaymentProviders, reference: str
) -> tuple[PaymentProvider, str] | None:
    """The provider the request with `reference` went through and its key of the payment
    there (None: there is no such request)."""
    async with sessions() as session:
        found = await repository.at_provider(session, reference)
    if found is None:
        return None
    return await providers.named(found.provider), found.key


@asynccontextmanager
async def _transaction(
    sessions: Sessions, given: AsyncSession | None
) -> AsyncIterator[AsyncSession]:
    """The caller's transaction if given (a job's), else a new one."""
    if given is not None:
        yield given
        return
    async with sessions() as session, session.begin():
        yield session
