"""Rate-limit hits stored, for `/metrics` (the table the worker purges)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.ratelimit.models import RateLimitHit


async def stored_hits(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count(RateLimitHit.id))) or 0)
