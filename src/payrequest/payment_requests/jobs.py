"""Background work for payment requests: send, capture, refund (from `refunds`), reading an
approved payment again for the payer's shared number, withdrawing a payment created for a
request that had ended, and the poller (webhook safety net).

Lanes (docs/deployment.md#money-movements-and-polling-under-a-slow-provider): captures,
refunds and withdrawals (cancels at the provider) move money and run in the `money` lane;
polls, and the job handing them out, in the `poll` lane. Each lane has worker slots of its
own that no other kind can take, so a provider that hangs on every poll never holds up a
capture.

The poller: a periodic job (`POLL_JOB`, every second, database only) hands each request whose
poll is due to a job of its own (`POLL_ONE_JOB`, one row per request, queued again for each
poll). That job asks the provider once, within `POLL_BUDGET`; when there is no answer it
counts against the process's `ProviderBreaker` and the request is polled again later.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.jobs.handlers import JobHandlers
from payrequest.jobs.rearm import enqueue_or_rearm
from payrequest.kit.clock import utcnow
from payrequest.payment_requests import phones, refunds, repository, withdraw, workflows
from payrequest.payment_requests.apply import CAPTURE_JOB
from payrequest.payment_requests.breaker import ProviderBreaker
from payrequest.payment_requests.service import SEND_JOB
from payrequest.payment_requests.state import ACTIVE
from payrequest.payment_requests.workflows import JOB_TIMEOUT
from payrequest.providers.base import PaymentProviders, ProviderError, TryAgainLater

POLL_JOB = "payment_requests.poll"  # periodic: hands due requests to POLL_ONE_JOB
POLL_ONE_JOB = "payment_requests.poll_one"
POLL_EVERY = timedelta(seconds=1)
POLL_HANDOUT = 20  # requests handed to poll jobs per second at most (one while sick)
# A request handed to a poll job is not handed out again for this long; the job sets the
# real next poll when it ends (a job lost with its worker is retried after it).
POLL_TURN = timedelta(seconds=30)
POLL_BUDGET = 8.0  # seconds one poll waits for the provider (one try and most of a second)
POLL_TIMEOUT = timedelta(seconds=15)
POLL_ATTEMPTS = 3  # only failures of our own (the database) are retried; see `poll_one`

MONEY_LANE = "money"
MONEY_KINDS = (CAPTURE_JOB, refunds.REFUND_JOB, withdraw.WITHDRAW_JOB)
MONEY_SLOTS = 8
POLL_LANE = "poll"
POLL_SLOTS = 4

log = logging.getLogger(__name__)


def install(
    handlers: JobHandlers,
    *,
    sessions: async_sessionmaker[AsyncSession],
    providers: PaymentProviders,
    return_url: str | None = None,
    breaker: ProviderBreaker | None = None,
) -> None:
    handlers.lane(MONEY_LANE, slots=MONEY_SLOTS, kinds=MONEY_KINDS)
    handlers.lane(POLL_LANE, slots=POLL_SLOTS, kinds=[POLL_JOB, POLL_ONE_JOB])
    health = breaker or ProviderBreaker()

    @handlers.job(SEND_JOB, max_attempts=30, timeout=JOB_TIMEOUT)
    async def send(_session: AsyncSession, payload: dict[str, Any]) -> None:
        with workflows.waits_in_the_queue():
            await workflows.send(
                sessions, providers, reference=str(payload["reference"]), return_url=return_url
            )

    # Never give up silently: ~200 attempts with backoff capped at minutes span days, and a
    # dead capture stays visible on the operations page with a Retry button.
    @handlers.job(CAPTURE_JOB, max_attempts=200, timeout=JOB_TIMEOUT)
    async def capture(session: AsyncSession, payload: dict[str, Any]) -> None:
        with workflows.waits_in_the_queue():
            await workflows.capture(
                sessions, providers, reference=str(payload["reference"]), apply_in=session
            )

    refunds.install(handlers, sessions=sessions, providers=providers)

    @handlers.job(
        withdraw.WITHDRAW_JOB, max_attempts=withdraw.WITHDRAW_ATTEMPTS, timeout=JOB_TIMEOUT
    )
    async def withdraw_payment(session: AsyncSession, payload: dict[str, Any]) -> None:
        reference = str(payload["reference"])
        found = await repository.at_provider(session, reference)
        if found is None:
            return
        provider = await providers.named(found.provider)
        with workflows.waits_in_the_queue():
            await withdraw.withdraw(provider, reference=reference, key=found.key)

    @handlers.job(
        phones.LEARN_AGAIN_JOB, max_attempts=phones.LEARN_AGAIN_ATTEMPTS, timeout=JOB_TIMEOUT
    )
    async def learn_phone(session: AsyncSession, payload: dict[str, Any]) -> None:
        await workflows.learn_phone_again(
            sessions, providers, reference=str(payload["reference"]), apply_in=session
        )

    @handlers.periodic(POLL_JOB, every=POLL_EVERY)
    async def poll_due(session: AsyncSession, _payload: dict[str, Any]) -> None:
        await hand_out_polls(session, limit=1 if health.sick else POLL_HANDOUT)

    @handlers.job(POLL_ONE_JOB, max_attempts=POLL_ATTEMPTS, timeout=POLL_TIMEOUT)
    async def poll_one(session: AsyncSession, payload: dict[str, Any]) -> None:
        await poll_request(
            sessions, providers, health, reference=str(payload["reference"]), apply_in=session
        )


async def hand_out_polls(session: AsyncSession, *, limit: int) -> int:
    """Queue a poll job for each request whose poll is due (the oldest first, at most
    `limit`); returns how many. Run for all organisations (the periodic job), each poll job
    acts for its request's organisation."""
    now = utcnow()
    due = await repository.due_for_poll(session, now=now, limit=limit)
    for request in due:
        request.next_poll_at = now + POLL_TURN
        await enqueue_or_rearm(
            session,
            kind=POLL_ONE_JOB,
            payload={"reference": request.reference},
            dedupe_key=f"poll:{request.reference}",
            max_attempts=POLL_ATTEMPTS,
            organisation_id=request.organisation_id,
        )
    return len(due)


async def poll_request(
    sessions: async_sessionmaker[AsyncSession],
    providers: PaymentProviders,
    breaker: ProviderBreaker,
    *,
    reference: str,
    apply_in: AsyncSession,
) -> None:
    """One poll. The provider's silence or refusal is not this job's failure: the request is
    polled again later (later still while the provider is sick), and the job ends."""
    try:
        await workflows.poll(
            sessions, providers, reference=reference, apply_in=apply_in, budget=POLL_BUDGET
        )
    except TryAgainLater as exc:
        await _poll_later(apply_in, reference, exc.retry_after)
    except (ProviderError, TimeoutError) as exc:
        if not isinstance(exc, ProviderError) or exc.retryable:
            breaker.failed()
        log.warning("poll of %s got no answer: %s", reference, str(exc) or "timed out")
        await _poll_later(apply_in, reference, breaker.wait())
    else:
        breaker.answered()


async def _poll_later(session: AsyncSession, reference: str, at_least: timedelta) -> None:
    request = await repository.lock(session, reference=reference)
    if request is not None and request.status in ACTIVE:
        workflows.schedule_next_poll(request, at_least=at_least)
