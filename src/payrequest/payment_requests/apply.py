"""The one way a signal changes a payment request: `apply_event` (a provider webhook),
`apply_snapshot` (what a poll, a capture or a cancel returned) and `apply_outcome` (our own
decisions: created, refused, cancelled by staff).

Each locks the request first. States only move forward along TRANSITIONS; a repeated or stale
signal changes nothing. Every step is written to the timeline and announced in the outbox in
the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.errors import N_
from payrequest.events import names
from payrequest.events.announcements import Announcement, announce
from payrequest.jobs import queue
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.ledger import service as ledger
from payrequest.ledger.partial import partly_paid
from payrequest.payment_requests import phones, repository
from payrequest.payment_requests.models import PaymentRequest, PaymentRequestEvent
from payrequest.payment_requests.signals import Outcome, from_event, from_snapshot, steps
from payrequest.payment_requests.state import ACTIVE, Status
from payrequest.providers.base import AccountRefusal, PaymentSnapshot, ProviderEvent

CAPTURE_JOB = "payment_requests.capture"


@dataclass(frozen=True, slots=True)
class Failure:
    code: str | None
    message: str
    refusal: AccountRefusal | None = None  # the account was refused, not this payment


@dataclass(frozen=True, slots=True)
class Applied:
    request: PaymentRequest | None  # None: no request has this reference
    steps: tuple[Status, ...]  # the statuses passed through, in order
    duplicate: bool = False  # the same provider event was applied before


async def apply_event(session: AsyncSession, *, event: ProviderEvent, source: str) -> Applied:
    request = await repository.lock(session, reference=event.reference)
    if request is None:
        return Applied(None, ())
    new = await repository.record_provider_event(
        session,
        {
            "payment_request_id": request.id,
            "source": source,
            "provider_event": event.name.value,
            "provider_ref": event.psp_reference,
            "amount": event.amount.amount,
            "occurred_at": event.occurred_at,
            "message": None
            if event.success
            else event.message or N_("The provider reports this operation failed"),
            "details": {
                "success": event.success,
                "idempotency_key": event.idempotency_key,
                **({"reason": event.reason} if event.reason else {}),
            },
        },
    )
    if not new:
        return Applied(request, (), duplicate=True)
    outcome = from_event(event, amount=request.amount)
    moved = await _move(session, request, outcome, source=source, at=event.occurred_at)
    return Applied(request, moved)


async def apply_snapshot(
    session: AsyncSession, *, snapshot: PaymentSnapshot, source: str
) -> Applied:
    request = await repository.lock(session, reference=snapshot.reference)
    if request is None:
        return Applied(None, ())
    request.provider_state = snapshot.state.value
    outcome = from_snapshot(snapshot, amount=request.amount)
    moved = await _move(session, request, outcome, source=source, at=utcnow())
    if snapshot.payer_phone is not None:
        await phones.learn(session, request, snapshot.payer_phone)  # once per request
    elif phones.still_to_learn(request, snapshot):
        await phones.learn_later(session, request)
    return Applied(request, moved)


async def apply_outcome(
    session: AsyncSession,
    *,
    reference: str,
    target: Status,
    source: str,
    failure: Failure | None = None,
    redirect_url: str | None = None,
    provider_reference: str | None = None,
    note: str | None = None,
) -> Applied:
    """Our own decisions: created at the provider (with its key of the payment, and the
    link for the payer), refused, cancelled by staff, ..."""
    request = await repository.lock(session, reference=reference)
    if request is None:
        return Applied(None, ())
    if redirect_url and not request.redirect_url:
        request.redirect_url = redirect_url
    if provider_reference and not request.provider_reference:
        request.provider_reference = provider_reference
    moved = await _move(
        session, request, Outcome(target), source=source, at=utcnow(), failure=failure, note=note
    )
    return Applied(request, moved)


async def _move(
    session: AsyncSession,
    request: PaymentRequest,
    outcome: Outcome,
    *,
    source: str,
    at: datetime,
    failure: Failure | None = None,
    note: str | None = None,
) -> tuple[Status, ...]:
    """Walk the request through the statuses the outcome implies, then act on them.

    Every step is written to the timeline and announced; the side effects (a capture job when
    authorized, the allocation when paid) run once after the walk, so that the whole move is a
    handful of statements: one UPDATE of the request, one INSERT per table."""
    if outcome.captured is not None and outcome.captured > request.captured_amount:
        request.captured_amount = outcome.captured
    if outcome.refunded is not None and outcome.refunded > request.refunded_amount:
        request.refunded_amount = min(outcome.refunded, request.captured_amount)
    moves = tuple(steps(request.status, outcome))
    announced = [
        _enter(session, request, step, source=source, at=at, failure=failure, note=note)
        for step in moves
    ]
    if Status.paid in moves:
        allocation, settled = await _allocate(session, request)
        announced[moves.index(Status.paid)].payload["allocation"] = allocation
        announced += settled
    if Status.authorized in moves:
        await queue.enqueue(
            session,
            kind=CAPTURE_JOB,
            payload={"reference": request.reference},
            dedupe_key=f"capture:{request.reference}",
            max_attempts=200,
            organisation_id=request.organisation_id,
        )
    await announce(session, announced, customer_id=request.customer_id)
    await session.flush()
    return moves


def _enter(
    session: AsyncSession,
    request: PaymentRequest,
    status: Status,
    *,
    source: str,
    at: datetime,
    failure: Failure | None,
    note: str | None,
) -> Announcement:
    """One step: the request's fields and its timeline entry. Returns what to announce."""
    previous = request.status
    request.status = status
    payload: dict[str, Any] = {
        "reference": request.reference,
        "status": status.value,
        "from": previous,
        "amount": request.amount,
        "currency": request.currency,
        "origin": request.origin,
        "source": source,
    }
    if status is Status.failed and failure is not None:
        request.failure_code = failure.code
        request.failure_message = failure.message
        payload["failure"] = failure.message
    if status not in ACTIVE:
        request.finished_at = at
        request.next_poll_at = None
        for link in request.invoice_links:
            link.active = False
    if status is Status.paid and request.captured_amount < request.amount:
        request.captured_amount = request.amount
    session.add(
        PaymentRequestEvent(
            payment_request_id=request.id,
            kind="state_changed",
            source=source,
            from_status=previous,
            to_status=status.value,
            occurred_at=at,
            message=failure.message if failure and status is Status.failed else note,
            details=_failure_details(failure) if status is Status.failed else {},
        )
    )
    return Announcement(names.STATUS_EVENTS[status.value], "payment_request", request.id, payload)


def _failure_details(failure: Failure | None) -> dict[str, Any]:
    """The provider's code and, for a refusal about the account, which (read by retries)."""
    if failure is None:
        return {}
    details = {"code": failure.code, "refusal": failure.refusal}
    return {key: str(value) for key, value in details.items() if value}


async def _allocate(
    session: AsyncSession, request: PaymentRequest
) -> tuple[dict[str, Any], list[Announcement]]:
    """Split the captured amount over the request's invoices.

    Returns the allocation (for the `paid` announcement) and the further events to announce:
    each invoice now fully paid, and the credit an overpayment became."""
    invoice_ids = [link.invoice_id for link in request.invoice_links]
    result = await ledger.allocate_payment(
        session,
        payment_request_id=request.id,
        customer_id=request.customer_id,
        amount=Money(request.captured_amount, request.currency),
        invoice_ids=invoice_ids,
    )
    if result.already_applied:
        return {"already_applied": True}, []
    events = [
        Announcement(
            names.INVOICE_PAID,
            "invoice",
            invoice.id,
            {"number": invoice.number, "payment_request": request.reference},
        )
        for invoice in result.settled
    ]
    events += partly_paid(result.allocations, result.settled, payment_request=request.reference)
    if result.credit is not None:
        credit = result.credit
        events.append(
            Announcement(
                names.CREDIT_CREATED,
                "credit",
                credit.id,
                {"amount": credit.amount, "currency": credit.currency},
            )
        )
    allocation = {
        "invoices": {str(a.invoice_id): a.amount for a in result.allocations},
        "credit": result.credit.amount if result.credit else 0,
    }
    return allocation, events
