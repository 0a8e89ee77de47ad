"""Background work for payment requests: send, capture, refund (from `refunds`), reading an
approved payment again for the payer's shared number, withdrawing a payment created for a
request that had ended, and the poller (webhook safety net)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.jobs.handlers import JobHandlers
from payrequest.kit.clock import utcnow
from payrequest.payment_requests import phones, refunds, repository, withdraw, workflows
from payrequest.payment_requests.apply import CAPTURE_JOB
from payrequest.payment_requests.service import SEND_JOB
from payrequest.payment_requests.workflows import JOB_TIMEOUT
from payrequest.providers.base import PaymentProvider, ProviderError

POLL_JOB = "payment_requests.poll"
POLL_EVERY = timedelta(seconds=1)
POLL_BATCH = 50

log = logging.getLogger(__name__)


def install(
    handlers: JobHandlers,
    *,
    sessions: async_sessionmaker[AsyncSession],
    provider: PaymentProvider,
    return_url: str | None = None,
) -> None:
    @handlers.job(SEND_JOB, max_attempts=30, timeout=JOB_TIMEOUT)
    async def send(_session: AsyncSession, payload: dict[str, Any]) -> None:
        with workflows.waits_in_the_queue():
            await workflows.send(
                sessions, provider, reference=str(payload["reference"]), return_url=return_url
            )

    # Never give up silently: ~200 attempts with backoff capped at minutes span days, and a
    # dead capture stays visible on the operations page with a Retry button.
    @handlers.job(CAPTURE_JOB, max_attempts=200, timeout=JOB_TIMEOUT)
    async def capture(session: AsyncSession, payload: dict[str, Any]) -> None:
        with workflows.waits_in_the_queue():
            await workflows.capture(
                sessions, provider, reference=str(payload["reference"]), apply_in=session
            )

    refunds.install(handlers, sessions=sessions, provider=provider)

    @handlers.job(
        withdraw.WITHDRAW_JOB, max_attempts=withdraw.WITHDRAW_ATTEMPTS, timeout=JOB_TIMEOUT
    )
    async def withdraw_payment(_session: AsyncSession, payload: dict[str, Any]) -> None:
        with workflows.waits_in_the_queue():
            await withdraw.withdraw(provider, reference=str(payload["reference"]))

    @handlers.job(
        phones.LEARN_AGAIN_JOB, max_attempts=phones.LEARN_AGAIN_ATTEMPTS, timeout=JOB_TIMEOUT
    )
    async def learn_phone(session: AsyncSession, payload: dict[str, Any]) -> None:
        await workflows.learn_phone_again(
            sessions, provider, reference=str(payload["reference"]), apply_in=session
        )

    @handlers.periodic(POLL_JOB, every=POLL_EVERY, timeout=JOB_TIMEOUT)
    async def poll_due(_session: AsyncSession, _payload: dict[str, Any]) -> None:
        await poll_due_requests(sessions, provider)


async def poll_due_requests(
    sessions: async_sessionmaker[AsyncSession], provider: PaymentProvider
) -> int:
    """Poll every request whose turn has come; one failing request does not stop the rest."""
    async with sessions() as session:
        due = [
            r.reference
            for r in await repository.due_for_poll(session, now=utcnow(), limit=POLL_BATCH)
        ]
    for reference in due:
        try:
            await workflows.poll(sessions, provider, reference=reference)
        except ProviderError as exc:
            log.warning("poll of %s failed: %s", reference, exc)
            await _postpone(sessions, reference)
    return len(due)


async def _postpone(sessions: async_sessionmaker[AsyncSession], reference: str) -> None:
    async with sessions() as session, session.begin():
        request = await repository.lock(session, reference=reference)
        if request is not None and request.next_poll_at is not None:
            request.poll_count += 1
            request.next_poll_at = utcnow() + workflows.next_poll_delay(request.poll_count)
