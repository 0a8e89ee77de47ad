"""Retrying a stored webhook whose application failed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.inbound import service
from payrequest.inbound.models import InboundEvent
from payrequest.jobs.handlers import JobHandlers
from payrequest.providers.base import PaymentProvider


def install(handlers: JobHandlers, *, provider: PaymentProvider) -> None:
    @handlers.job(service.APPLY_JOB, max_attempts=50, timeout=timedelta(seconds=30))
    async def apply_inbound(session: AsyncSession, payload: dict[str, Any]) -> None:
        inbound = await session.get(InboundEvent, int(payload["inbound_id"]))
        if inbound is None or inbound.status in ("applied", "unmatched"):
            return
        event = provider.read_event(inbound.body.encode("utf-8"))
        await service.apply_stored(session, inbound=inbound, event=event)  # raises: retried
