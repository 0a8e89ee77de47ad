"""The webhooks' jobs: the fan-out and the log's purge (periodic, the installation's), one job
per automatic try of a delivery, and the owners' email when an endpoint is switched off.

Tries run in a lane of their own (`webhooks`, jobs.handlers): a slow or hanging receiver holds
those slots only, never the automations', the sends' or the money's; when tries queue up, the
lane's slots are shared between organisations (jobs.leases.claim_fairly)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.jobs.context import RetryAt
from payrequest.jobs.handlers import JobHandlers
from payrequest.webhooks import delivery, mail, retention
from payrequest.webhooks.fanout import FAN_OUT_JOB, fan_out
from payrequest.webhooks.services import WebhookServices

FAN_OUT_EVERY = timedelta(seconds=1)
PURGE_JOB = "webhooks.purge"
PURGE_EVERY = timedelta(hours=1)
# A try's whole exchange has a deadline of its own (notify.webhook.sender.DEADLINE).
DELIVER_TIMEOUT = timedelta(seconds=30)
TURN_WAIT = timedelta(seconds=30)  # a delivery queued before its turn looks again after this
LANE = "webhooks"
LANE_SLOTS = 2


def install(handlers: JobHandlers, services: WebhookServices) -> None:
    handlers.lane(LANE, slots=LANE_SLOTS, kinds=[delivery.DELIVER_JOB])

    @handlers.periodic(FAN_OUT_JOB, every=FAN_OUT_EVERY)
    async def fan_out_events(session: AsyncSession, _payload: dict[str, Any]) -> None:
        await fan_out(session, now=services.clock())

    @handlers.job(
        delivery.DELIVER_JOB, max_attempts=delivery.DELIVER_JOB_ATTEMPTS, timeout=DELIVER_TIMEOUT
    )
    async def deliver(session: AsyncSession, payload: dict[str, Any]) -> None:
        # `session` (the job's) is first used after the receiver answered: nothing is locked
        # while it is called.
        delivery_id, attempt = int(payload["delivery_id"]), int(payload["attempt"])
        try:
            async with services.sessions() as own, own.begin():
                ready = await delivery.prepare(
                    own, services.box, delivery_id=delivery_id, attempt=attempt,
                    now=services.clock(),
                )  # fmt: skip
        except delivery.NotYourTurn:
            raise RetryAt(services.clock() + TURN_WAIT, "an earlier event goes first") from None
        if ready is None:
            return
        outcome = await delivery.send(services.sender, ready, clock=services.clock)
        await delivery.record(session, ready, outcome, now=services.clock())

    @handlers.periodic(PURGE_JOB, every=PURGE_EVERY)
    async def purge_log(session: AsyncSession, _payload: dict[str, Any]) -> None:
        await retention.purge(session, now=services.clock())

    @handlers.job(mail.TELL_OWNERS_JOB, max_attempts=10)
    async def tell_owners(session: AsyncSession, payload: dict[str, Any]) -> None:
        await mail.tell_owners(
            session, services.email, services.urls, endpoint_id=int(payload["endpoint_id"])
        )
