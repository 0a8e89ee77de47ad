"""API key queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.api_keys.models import ApiKey


async def get(session: AsyncSession, key_id: int) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    """The key with this hash, of whichever organisation the session may see (the API finds a
    key acting for all of them: the key says whose it is)."""
    stmt = select(ApiKey).where(ApiKey.key_hash == key_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def listed(session: AsyncSession) -> list[ApiKey]:
    """The organisation's keys, live ones first, newest first."""
    stmt = select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc())
    return list((await session.execute(stmt)).scalars())
