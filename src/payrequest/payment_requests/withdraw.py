"""A payment the provider created for a request we no longer want, taken back there.

The race: a request still `sending` is cancelled by staff; the cancel finds nothing at the
provider (the create has not arrived yet) and the request is cancelled here. A moment later the
in-flight create succeeds: the provider now holds a live payment the customer could approve,
for a request that is over. `send` notices (the request did not move to `pending`), writes a
timeline note and queues WITHDRAW_JOB in the same transaction; the job cancels the payment at the
provider with its own idempotency key (the request's `cancel` key may hold the earlier
"not found" answer).
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.errors import N_
from payrequest.jobs import queue
from payrequest.jobs.context import PermanentJobError
from payrequest.kit.clock import utcnow
from payrequest.payment_requests import references
from payrequest.payment_requests.models import PaymentRequest, PaymentRequestEvent
from payrequest.providers.base import PaymentNotFound, PaymentProvider, ProviderError

WITHDRAW_JOB = "payment_requests.withdraw"
WITHDRAW_ATTEMPTS = 50
NOTE = N_(
    "The payment reached the provider after the request had ended; it is being withdrawn there"
)
log = logging.getLogger(__name__)


async def withdraw_later(session: AsyncSession, request: PaymentRequest) -> None:
    """In the caller's transaction: note it on the timeline and queue the withdrawal (once)."""
    session.add(
        PaymentRequestEvent(
            payment_request_id=request.id,
            kind="note",
            source="system",
            occurred_at=utcnow(),
            message=NOTE,
            details={"withdraw": request.status.value},
        )
    )
    await queue.enqueue(
        session,
        kind=WITHDRAW_JOB,
        payload={"reference": request.reference},
        dedupe_key=f"withdraw:{request.reference}",
        max_attempts=WITHDRAW_ATTEMPTS,
        organisation_id=request.organisation_id,
    )


async def withdraw(provider: PaymentProvider, *, reference: str, key: str) -> None:
    """Cancel the unwanted payment (`key` at `provider`) of the request with `reference`. A
    retryable failure raises (the job tries again with the same key); one the provider refuses
    for good (the customer approved it in the meantime) is left for an operator: the dead job
    shows on the operations page."""
    try:
        await provider.cancel(
            key, idempotency_key=references.idempotency_key(reference, "withdraw")
        )
    except PaymentNotFound:
        return  # gone already
    except ProviderError as exc:
        if exc.retryable:
            raise
        log.error("could not withdraw the unwanted payment %s: %s", reference, exc)
        raise PermanentJobError(f"withdraw {reference}: {exc}") from exc
