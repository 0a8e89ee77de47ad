"""How long the delivery log is kept (docs/webhooks.md, "The log"): a delivery that is
finished (delivered or given up) goes, with the log of its tries, KEEP after it was made; an
event no delivery needs any more goes with the last of them. Pending deliveries stay, however
old. A periodic job of the installation (webhooks.jobs), acting for every organisation."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.webhooks.models import WebhookDelivery, WebhookEvent

KEEP = timedelta(days=30)


async def purge(session: AsyncSession, *, now: datetime) -> int:
    """Delete what is older than KEEP; returns how many deliveries went."""
    cutoff = now - KEEP
    gone = await session.execute(
        delete(WebhookDelivery)
        .where(WebhookDelivery.status != "pending", WebhookDelivery.created_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    needed = select(WebhookDelivery.id).where(WebhookDelivery.event_id == WebhookEvent.id)
    await session.execute(
        delete(WebhookEvent)
        .where(WebhookEvent.created_at < cutoff, ~exists(needed))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(gone, "rowcount", 0) or 0)
