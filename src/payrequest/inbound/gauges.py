"""The webhook inbox as `/metrics` shows it: rows per status, the oldest event not applied
yet, and received -> applied lag over the recent events (at most `LAG_SAMPLE` of them)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.inbound.models import INBOX_STATUSES, InboundEvent
from payrequest.observability.database import InboxState

LAG_WINDOW = timedelta(minutes=5)
LAG_SAMPLE = 2000  # the newest events in the window; enough for a 95th percentile


async def inbox_state(session: AsyncSession, *, now: datetime) -> InboxState:
    by_status = dict.fromkeys(INBOX_STATUSES, 0)
    rows = await session.execute(
        select(InboundEvent.status, func.count()).group_by(InboundEvent.status)
    )
    for status, n in rows:
        by_status[str(status)] = int(n)
    oldest = await session.scalar(
        select(func.min(InboundEvent.received_at)).where(
            InboundEvent.status.in_(("received", "failed"))
        )
    )
    pairs = await session.execute(
        select(InboundEvent.received_at, InboundEvent.applied_at)
        .where(
            InboundEvent.status == "applied",
            InboundEvent.received_at >= now - LAG_WINDOW,
            InboundEvent.applied_at.is_not(None),
        )
        .order_by(InboundEvent.received_at.desc())
        .limit(LAG_SAMPLE)
    )
    lags = sorted(
        max((applied - received).total_seconds(), 0.0)
        for received, applied in pairs
        if applied is not None
    )
    return InboxState(
        by_status=by_status,
        oldest_unapplied_age_seconds=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
        lag_quantiles=_quantiles(lags),
        window_seconds=LAG_WINDOW.total_seconds(),
    )


def _quantiles(ordered: list[float]) -> dict[str, float]:
    if not ordered:
        return {}
    last = len(ordered) - 1
    return {
        "0.5": ordered[round(last * 0.5)],
        "0.95": ordered[round(last * 0.95)],
        "1": ordered[last],
    }
