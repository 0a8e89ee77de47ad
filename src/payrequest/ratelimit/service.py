"""Check and count hits against limits such as "3 per 10 minutes and 10 per day"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.kit.clock import utcnow
from payrequest.ratelimit.models import RateLimitHit


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after: timedelta | None = None  # when the oldest counted hit leaves the window


async def check(session: AsyncSession, *, key: str, limits: Sequence[Limit]) -> Verdict:
    """Whether one more hit for `key` fits every limit (nothing is counted)."""
    now = utcnow()
    for limit in limits:
        since = now - limit.window
        stmt = select(func.count(RateLimitHit.id), func.min(RateLimitHit.created_at)).where(
            RateLimitHit.key == key, RateLimitHit.created_at > since
        )
        count, oldest = (await session.execute(stmt)).one()
        if count >= limit.count:
            wait = (oldest + limit.window - now) if oldest is not None else limit.window
            return Verdict(False, max(wait, timedelta(seconds=1)))
    return Verdict(True)


async def hit(session: AsyncSession, *, key: str) -> None:
    session.add(RateLimitHit(key=key, created_at=utcnow()))
    await session.flush()


async def count(session: AsyncSession, *, key: str, since: datetime) -> int:
    """How many hits `key` has had after `since` (for pages that show a counter)."""
    stmt = select(func.count(RateLimitHit.id)).where(
        RateLimitHit.key == key, RateLimitHit.created_at > since
    )
    return int((await session.execute(stmt)).scalar_one())


async def take(session: AsyncSession, *, key: str, limits: Sequence[Limit]) -> Verdict:
    """Count a hit if it fits every limit; the caller's transaction decides if it sticks."""
    verdict = await check(session, key=key, limits=limits)
    if verdict.allowed:
        await hit(session, key=key)
    return verdict


async def forget(session: AsyncSession, *, key: str) -> None:
    await session.execute(delete(RateLimitHit).where(RateLimitHit.key == key))


async def purge(session: AsyncSession, *, older_than: timedelta) -> int:
    result = await session.execute(
        delete(RateLimitHit).where(RateLimitHit.created_at < utcnow() - older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)
