"""Delivering one event to one endpoint (docs/webhooks.md, "Delivery"): at least once, in order
per object per endpoint, retried with backoff for 3 days, every try logged.

A try has three steps, so that no transaction stays open while the receiver answers:

1. `prepare`, in a short transaction of its own: is it this delivery's turn (pending, the try
   the job was queued for, no earlier pending delivery of the same object to the same
   endpoint, the endpoint on)? Then what to send: the stored body, the secrets that sign now.
2. `send` through the shared webhook sender (notify.webhook: the SSRF guard, short timeouts,
   the start of the answer read); it never raises for the receiver's failure.
3. `record`, in the caller's transaction (a job's, which commits with the job's "done"): the
   log line, the delivery's new state, the next try's job, the next delivery of the object,
   the endpoint's record of failures and, after persistent failure (a delivery given up after
   3 days in which no try to the endpoint got through), switching it off.

A worker that dies between 2 and 3 leaves the job to run again: the receiver may get the same
`webhook-id` twice (at least once), the log and the state change once. `record` takes the
endpoint's row lock before it looks at the object's queue, as the fan-out does before it adds
to it, so a delivery added while the one before it finishes is never left without a job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.jobs import queue
from payrequest.kit.crypto import SecretBox
from payrequest.notify.webhook.sender import WebhookError, WebhookSender
from payrequest.webhooks import endpoints, schedule
from payrequest.webhooks.mail import TELL_OWNERS_JOB
from payrequest.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

Clock = Callable[[], datetime]

DELIVER_JOB = "webhooks.deliver"
# The job's own retries, when the database or the worker failed it; the receiver's failures
# are the delivery's tries (schedule), each a job of its own.
DELIVER_JOB_ATTEMPTS = 5
KEEP = 2048  # characters of an answer kept in the log
MAX_ERROR = 500


class NotYourTurn(Exception):
    """An earlier delivery of the same object to the same endpoint is still pending."""


@dataclass(frozen=True, slots=True)
class Prepared:
    delivery_id: int
    endpoint_id: int
    url: str
    body: str
    secrets: tuple[str, ...]
    msg_id: str  # the event's id: the same on every try and every resend
    attempt: int | None  # the delivery's automatic tries before this one; None: by hand
    test: bool = False  # a test event: tried once, by hand


@dataclass(frozen=True, slots=True)
class Outcome:
    attempted_at: datetime
    duration_ms: int
    status_code: int | None
    body: str  # the start of the answer
    error: str | None  # None: delivered (a 2xx answer)

    @property
    def ok(self) -> bool:
        return self.error is None


async def enqueue(session: AsyncSession, delivery: WebhookDelivery, *, at: datetime) -> None:
    """Queue the delivery's next automatic try (once per try: the dedupe key names it)."""
    await queue.enqueue(
        session,
        kind=DELIVER_JOB,
        payload={"delivery_id": delivery.id, "attempt": delivery.attempts},
        dedupe_key=f"webhook:{delivery.id}:{delivery.attempts}",
        run_at=at,
        max_attempts=DELIVER_JOB_ATTEMPTS,
        organisation_id=delivery.organisation_id,
    )


async def earlier_pending(session: AsyncSession, delivery: WebhookDelivery) -> bool:
    """Whether an earlier delivery of the same object to the same endpoint still waits."""
    if delivery.ordering_key is None:
        return False
    found = await session.scalar(
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.endpoint_id == delivery.endpoint_id,
            WebhookDelivery.ordering_key == delivery.ordering_key,
            WebhookDelivery.status == "pending",
            WebhookDelivery.id < delivery.id,
        )
        .limit(1)
    )
    return found is not None


async def wake_next(session: AsyncSession, delivery: WebhookDelivery, *, now: datetime) -> None:
    """After `delivery` is finished: queue the first pending delivery of its object, if any."""
    if delivery.ordering_key is None:
        return
    following = (
        await session.scalars(
            select(WebhookDelivery)
            .where(
                WebhookDelivery.endpoint_id == delivery.endpoint_id,
                WebhookDelivery.ordering_key == delivery.ordering_key,
                WebhookDelivery.status == "pending",
            )
            .order_by(WebhookDelivery.id)
            .limit(1)
        )
    ).one_or_none()
    if following is not None:
        due = following.next_attempt_at
        await enqueue(session, following, at=max(due, now) if due else now)


async def prepare(
    session: AsyncSession, box: SecretBox, *, delivery_id: int, attempt: int, now: datetime
) -> Prepared | None:
    """Step 1 of an automatic try; None when there is nothing to send (finished, switched
    off, deleted, or this try was made already). NotYourTurn: an earlier one goes first."""
    delivery = await session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != "pending" or delivery.attempts != attempt:
        return None
    endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id)
    if endpoint is None or not endpoint.enabled:
        return None
    if await earlier_pending(session, delivery):
        raise NotYourTurn(delivery_id)
    return await prepared(session, box, delivery, endpoint, attempt=attempt, now=now)


async def prepared(
    session: AsyncSession,
    box: SecretBox,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    *,
    attempt: int | None,
    now: datetime,
    test: bool = False,
) -> Prepared:
    event = await session.get(WebhookEvent, delivery.event_id)
    if event is None:  # deleted with the delivery, by the foreign key
        raise LookupError(f"webhook delivery {delivery.id} has no event")
    return Prepared(
        delivery_id=delivery.id,
        endpoint_id=endpoint.id,
        url=endpoint.url,
        body=event.body,
        secrets=tuple(endpoints.signing_secrets(endpoint, box, now=now)),
        msg_id=event.public_id,
        attempt=attempt,
        test=test,
    )


async def send(sender: WebhookSender, prepared: Prepared, *, clock: Clock) -> Outcome:
    """Step 2: POST the body, signed; the receiver's answer or failure as an Outcome."""
    attempted_at = clock()
    started = time.monotonic()
    try:
        receipt = await sender.send(
            url=prepared.url,
            body=prepared.body,
            secret=prepared.secrets,
            msg_id=prepared.msg_id,
            keep=KEEP,
        )
    except WebhookError as exc:
        return Outcome(
            attempted_at, _since(started), exc.status_code, exc.answer, exc.message[:MAX_ERROR]
        )
    return Outcome(attempted_at, _since(started), receipt.status_code, receipt.body, None)


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


async def record(
    session: AsyncSession, prepared: Prepared, outcome: Outcome, *, now: datetime
) -> None:
    """Step 3, in the caller's transaction."""
    endpoint = (
        await session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.id == prepared.endpoint_id)
            .with_for_update()
        )
    ).one_or_none()
    delivery = await session.get(WebhookDelivery, prepared.delivery_id, with_for_update=True)
    if endpoint is None or delivery is None:
        return  # deleted meanwhile, log and all
    session.add(
        WebhookAttempt(
            organisation_id=delivery.organisation_id,
            delivery_id=delivery.id,
            manual=prepared.attempt is None,
            attempted_at=outcome.attempted_at,
            duration_ms=outcome.duration_ms,
            status_code=outcome.status_code,
            response_body=outcome.body,
            error=outcome.error,
        )
    )
    delivery.last_attempt_at = outcome.attempted_at
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    if outcome.ok:
        endpoint.failing_since = None
        endpoint.consecutive_failures = 0
    if prepared.attempt is None:
        await _record_by_hand(session, prepared, delivery, outcome, now=now)
        return
    if delivery.status != "pending" or delivery.attempts != prepared.attempt:
        return  # this try was recorded by an earlier run of the job (at least once)
    delivery.attempts += 1
    if outcome.ok:
        await _finish(session, delivery, "delivered", now=now)
        return
    endpoint.failing_since = endpoint.failing_since or outcome.attempted_at
    endpoint.consecutive_failures += 1
    due = schedule.next_attempt(created_at=delivery.created_at, attempts=delivery.attempts, now=now)
    if due is not None:
        delivery.next_attempt_at = due
        await enqueue(session, delivery, at=due)
        return
    if endpoint.enabled and await persistently_failing(session, endpoint, delivery):
        await _switch_off(session, endpoint, now=now)  # gives this delivery up too
        return
    await _finish(session, delivery, "failed", now=now)


async def _record_by_hand(
    session: AsyncSession,
    prepared: Prepared,
    delivery: WebhookDelivery,
    outcome: Outcome,
    *,
    now: datetime,
) -> None:
    """A resend or a test: delivered when it got through; a test that did not is failed
    (nobody tries it again); a pending delivery's own tries go on as planned."""
    if outcome.ok and delivery.status != "delivered":
        await _finish(session, delivery, "delivered", now=now)
    elif not outcome.ok and prepared.test:
        await _finish(session, delivery, "failed", now=now)


async def persistently_failing(
    session: AsyncSession, endpoint: WebhookEndpoint, given_up: WebhookDelivery
) -> bool:
    """Whether every try to the endpoint has failed since `given_up` (a delivery whose
    3 days of tries all failed) was first tried: no try of any delivery got through since."""
    first = await session.scalar(
        select(func.min(WebhookAttempt.attempted_at)).where(
            WebhookAttempt.delivery_id == given_up.id, WebhookAttempt.manual.is_(False)
        )
    )
    since = endpoint.failing_since
    return since is not None and first is not None and since <= first


async def _switch_off(session: AsyncSession, endpoint: WebhookEndpoint, *, now: datetime) -> None:
    await endpoints.switch_off(session, endpoint, reason="failing", now=now)
    await queue.enqueue(
        session,
        kind=TELL_OWNERS_JOB,
        payload={"endpoint_id": endpoint.id},
        dedupe_key=f"webhook-off:{endpoint.id}:{int(now.timestamp())}",
        run_at=now,
        organisation_id=endpoint.organisation_id,
    )


async def _finish(
    session: AsyncSession, delivery: WebhookDelivery, status: str, *, now: datetime
) -> None:
    was_pending = delivery.status == "pending"
    delivery.status = status
    delivery.next_attempt_at = None
    if status == "delivered":
        delivery.delivered_at = now
    await session.flush()
    if was_pending:
        await wake_next(session, delivery, now=now)
