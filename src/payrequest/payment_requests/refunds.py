"""Refunds: of a paid request (all or part), or of a customer's credit from an overpayment.

Like the other workflows: a `pending` refund row and a job are written first; the provider is
called with a key derived from the refund id (the same on every retry); the answer is applied
in a second transaction. A refund can never exceed what was captured and not yet refunded.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.audit import service as audit
from payrequest.errors import Conflict, NotFound, ValidationFailed
from payrequest.events import names, outbox
from payrequest.jobs import queue
from payrequest.jobs.handlers import JobHandlers
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.ledger import repository as ledger_repo
from payrequest.ledger import service as ledger
from payrequest.ledger.models import Credit, Refund
from payrequest.payment_requests import apply, repository
from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.state import Status
from payrequest.payment_requests.workflows import JOB_TIMEOUT, waits_in_the_queue
from payrequest.providers.base import PaymentProviders, ProviderError

REFUND_JOB = "payment_requests.refund"
Sessions = async_sessionmaker[AsyncSession]


async def _refundable(session: AsyncSession, payment_request_id: int, captured: int) -> int:
    taken = (
        await session.execute(
            select(func.coalesce(func.sum(Refund.amount), 0)).where(
                Refund.payment_request_id == payment_request_id, Refund.status != "failed"
            )
        )
    ).scalar_one()
    return int(captured - taken)


async def get(session: AsyncSession, refund_id: int) -> Refund | None:
    return await session.get(Refund, refund_id)


async def request_refund(
    session: AsyncSession,
    *,
    payment_request_id: int,
    amount: int | None = None,
    reason: str = "Refund",
    user_id: int | None = None,
) -> Refund:
    """Refund a paid request; `amount` None refunds everything still refundable."""
    request = await repository.get(session, payment_request_id)
    if request is None:
        raise NotFound("No such payment request")
    await session.refresh(request, with_for_update=True)
    if request.status not in (Status.paid, Status.refunded):
        raise Conflict("Only a paid request can be refunded")
    refundable = await _refundable(session, request.id, request.captured_amount)
    amount = refundable if amount is None else amount
    _check_amount(amount, refundable, request.currency)
    credit_id, from_credit = await ledger.plan_refund(
        session, payment_request_id=request.id, amount=amount
    )
    return await _pending(
        session,
        request_id=request.id,
        currency=request.currency,
        amount=amount,
        credit_id=credit_id,
        credit_amount=from_credit,
        reason=reason,
        user_id=user_id,
    )


async def refund_credit(
    session: AsyncSession,
    *,
    credit_id: int,
    amount: int | None = None,
    reason: str = "Credit paid back",
    user_id: int | None = None,
) -> Refund:
    credit = await session.get(Credit, credit_id, with_for_update=True)
    if credit is None:
        raise NotFound("No such credit")
    if credit.payment_request_id is None:
        raise Conflict("This credit did not come from a payment, so there is nothing to refund to")
    available = await ledger_repo.credit_available(session, credit.id)
    amount = available if amount is None else amount
    _check_amount(amount, available, credit.currency)
    return await _pending(
        session,
        request_id=credit.payment_request_id,
        currency=credit.currency,
        amount=amount,
        credit_id=credit.id,
        credit_amount=amount,
        reason=reason,
        user_id=user_id,
    )


def _check_amount(amount: int, limit: int, currency: str) -> None:
    if amount <= 0:
        raise ValidationFailed("The refund must be more than zero", field="amount")
    if amount > limit:
        raise ValidationFailed(
            "At most %(limit)s can be refunded", field="amount", limit=Money(limit, currency)
        )


async def _pending(
    session: AsyncSession,
    *,
    request_id: int,
    currency: str,
    amount: int,
    credit_id: int | None,
    credit_amount: int,
    reason: str,
    user_id: int | None,
) -> Refund:
    count = len(await ledger_repo.refunds_for_request(session, request_id))
    request = await repository.get(session, request_id)
    assert request is not None
    refund = Refund(
        payment_request_id=request_id,
        credit_id=credit_id,
        currency=currency,
        amount=amount,
        credit_amount=credit_amount,
        status="pending",
        reason=reason[:200],
        created_by_user_id=user_id,
        idempotency_key=f"refund{count + 1}-{request.reference}"[:50],
    )
    session.add(refund)
    await session.flush()
    await audit.record(
        session,
        action="payment.refund",
        user_id=user_id,
        subject_type="payment_request",
        subject_id=request_id,
        details={
            "reference": request.reference,
            "refund_id": refund.id,
            "amount": amount,
            "currency": currency,
            "reason": refund.reason,
        },
    )
    await queue.enqueue(
        session,
        kind=REFUND_JOB,
        payload={"refund_id": refund.id},
        dedupe_key=f"refund:{refund.id}",
        max_attempts=50,
        organisation_id=request.organisation_id,
    )
    return refund


async def send_refund(sessions: Sessions, providers: PaymentProviders, *, refund_id: int) -> None:
    """Ask the payment's provider to pay the refund back; retryable errors raise for the job
    to retry."""
    async with sessions() as session:
        refund = await session.get(Refund, refund_id)
        if refund is None or refund.status != "pending":
            return
        request = await repository.get(session, refund.payment_request_id)
        assert request is not None
        name, at_provider = request.provider, request.key_at_provider
        key = refund.idempotency_key
        amount = Money(refund.amount, refund.currency)
    provider = await providers.named(name)
    try:
        snapshot = await provider.refund(at_provider, amount, idempotency_key=key)
    except ProviderError as exc:
        if exc.retryable:
            raise
        async with sessions() as session, session.begin():
            await _finish(session, refund_id, failure=exc.message)
        return
    async with sessions() as session, session.begin():
        await _finish(session, refund_id, failure=None)
        await apply.apply_snapshot(session, snapshot=snapshot, source="system")


async def _finish(session: AsyncSession, refund_id: int, *, failure: str | None) -> None:
    """Settle a refund. Locks in one order, the request first, then the refund: two refunds of
    one payment finishing together would otherwise each hold what the other needs (its refund
    row, and the key-share lock its reversal rows take on the request) and deadlock."""
    found = await session.get(Refund, refund_id)
    if found is None:
        return
    await session.get(PaymentRequest, found.payment_request_id, with_for_update=True)
    refund = await session.get(Refund, refund_id, with_for_update=True, populate_existing=True)
    if refund is None or refund.status != "pending":
        return
    refund.status = "failed" if failure else "succeeded"
    refund.failure_message = failure
    refund.finished_at = utcnow()
    if failure is None:
        await ledger.reverse_allocations(session, refund=refund)
    payload: dict[str, Any] = {
        "amount": refund.amount,
        "currency": refund.currency,
        "payment_request_id": refund.payment_request_id,
        "failure": failure,
    }
    request = await repository.get(session, refund.payment_request_id)
    await outbox.record(
        session,
        name=names.REFUND_FAILED if failure else names.REFUND_SUCCEEDED,
        aggregate_type="refund",
        aggregate_id=refund.id,
        customer_id=request.customer_id if request else None,
        payload=payload,
    )


def install(handlers: JobHandlers, *, sessions: Sessions, providers: PaymentProviders) -> None:
    @handlers.job(REFUND_JOB, max_attempts=50, timeout=JOB_TIMEOUT)
    async def send(_session: AsyncSession, payload: dict[str, Any]) -> None:
        with waits_in_the_queue():
            await send_refund(sessions, providers, refund_id=int(payload["refund_id"]))
