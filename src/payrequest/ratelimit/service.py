"""Check and count hits against limits such as "3 per 10 minutes and 10 per day".

`take` and `take_all` are the atomic ones: they lock the key, count its hits and add this one
in the caller's transaction, so that simultaneous requests (several web processes) can never
get more hits past a limit than it allows. On PostgreSQL the lock is a transaction advisory
lock on the key (held until the caller commits or rolls back); on SQLite every writing
transaction already holds the database's write lock from BEGIN IMMEDIATE (`db.session`), so
the session must be a writing one (`runtime.sessions`, not `read_sessions`).

`check` and `hit` are the two halves without the lock: for counting only (`hit`, e.g.
rejected webhooks) or for a question that counts nothing (`check`). A limit built from
`check` followed by `hit` races; use `take`.

Keys longer than the column (or holding characters a database cannot store, such as NUL)
are stored as a prefix plus their SHA-256, so that no caller's input can overflow the column.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.db.scope import scope_of
from payrequest.db.session import READ_ONLY
from payrequest.kit.clock import utcnow
from payrequest.ratelimit.models import RateLimitHit

KEY_LENGTH = 200  # RateLimitHit.key
HASHED_PREFIX = 100  # characters of a long key kept readable before its hash
# The first half of PostgreSQL's two-number advisory lock: the rate limits' own namespace.
LOCK_SPACE = 0x7261  # "ra"


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after: timedelta | None = None  # when the oldest counted hit leaves the window


def stored_key(key: str) -> str:
    """The key as stored: itself if it fits the column, else a prefix and its SHA-256."""
    if len(key) <= KEY_LENGTH and "\x00" not in key:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    prefix = key[:HASHED_PREFIX].replace("\x00", "")
    return f"{prefix}#sha256:{digest}"


def _organisation(session: AsyncSession) -> int | None:
    scope = scope_of(session.sync_session)
    return scope if isinstance(scope, int) else None


def _stored(session: AsyncSession, key: str) -> str:
    """Per organisation: a session acting for one counts in that organisation's own bucket
    (one business's bulk send never uses up another's allowance)."""
    organisation = _organisation(session)
    return stored_key(key if organisation is None else f"org{organisation}:{key}")


async def check(session: AsyncSession, *, key: str, limits: Sequence[Limit]) -> Verdict:
    """Whether one more hit for `key` fits every limit (nothing is counted, nothing locked)."""
    return await _verdict(session, _stored(session, key), limits)


async def hit(session: AsyncSession, *, key: str) -> None:
    """Count a hit without checking any limit (a counter, not a limit)."""
    session.add(
        RateLimitHit(
            key=_stored(session, key),
            organisation_id=_organisation(session),
            created_at=utcnow(),
        )
    )
    await session.flush()


async def count(session: AsyncSession, *, key: str, since: datetime) -> int:
    """How many hits `key` has had after `since` (for pages that show a counter)."""
    stmt = select(func.count(RateLimitHit.id)).where(
        RateLimitHit.key == _stored(session, key), RateLimitHit.created_at > since
    )
    return int((await session.execute(stmt)).scalar_one())


async def take(session: AsyncSession, *, key: str, limits: Sequence[Limit]) -> Verdict:
    """Atomically: count a hit if it fits every limit. The key stays locked until the
    caller's transaction ends, which decides whether the hit sticks."""
    return await take_all(session, [(key, limits)])


async def take_all(session: AsyncSession, checks: Sequence[tuple[str, Sequence[Limit]]]) -> Verdict:
    """Atomically for several keys: a hit for each if every key fits its limits, else none
    and the first refusal. Keys are locked in a fixed order (no deadlock between callers)."""
    keyed = [(_stored(session, key), limits) for key, limits in checks]
    for key in sorted({key for key, _ in keyed}):
        await _lock(session, key)
    for key, limits in keyed:
        verdict = await _verdict(session, key, limits)
        if not verdict.allowed:
            return verdict
    now = utcnow()
    organisation = _organisation(session)
    session.add_all(
        [RateLimitHit(key=key, organisation_id=organisation, created_at=now) for key, _ in keyed]
    )
    await session.flush()
    return Verdict(True)


@dataclass(frozen=True, slots=True)
class Quota:
    """One limit as a client is told of it (docs/api.md, "Rate limits"): whether this hit was
    counted, what is left of the window's allowance, and the seconds until the oldest counted
    hit leaves the window (the allowance grows again then)."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int


async def take_quota(session: AsyncSession, *, key: str, limit: Limit) -> Quota:
    """Like `take` for one limit, saying what is left of it. Atomic as `take` is."""
    stored = _stored(session, key)
    await _lock(session, stored)
    now = utcnow()
    stmt = select(func.count(RateLimitHit.id), func.min(RateLimitHit.created_at)).where(
        RateLimitHit.key == stored, RateLimitHit.created_at > now - limit.window
    )
    hits, oldest = (await session.execute(stmt)).one()
    reset = (oldest or now) + limit.window - now
    reset_seconds = max(1, math.ceil(reset.total_seconds()))
    if hits >= limit.count:
        return Quota(False, limit.count, 0, reset_seconds)
    session.add(RateLimitHit(key=stored, organisation_id=_organisation(session), created_at=now))
    await session.flush()
    return Quota(True, limit.count, limit.count - hits - 1, reset_seconds)


async def forget(session: AsyncSession, *, key: str) -> None:
    await session.execute(delete(RateLimitHit).where(RateLimitHit.key == _stored(session, key)))


async def purge(session: AsyncSession, *, older_than: timedelta) -> int:
    result = await session.execute(
        delete(RateLimitHit).where(RateLimitHit.created_at < utcnow() - older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _lock(session: AsyncSession, key: str) -> None:
    """Hold `key` until the transaction ends: on PostgreSQL an advisory lock; on SQLite the
    writing transaction already holds the database's write lock."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))"),
            {"space": LOCK_SPACE, "key": key},
        )
    elif bind.get_execution_options().get(READ_ONLY):
        raise RuntimeError("a rate limit is taken in a writing session (runtime.sessions)")


async def _verdict(session: AsyncSession, key: str, limits: Sequence[Limit]) -> Verdict:
    now = utcnow()
    for limit in limits:
        since = now - limit.window
        stmt = select(func.count(RateLimitHit.id), func.min(RateLimitHit.created_at)).where(
            RateLimitHit.key == key, RateLimitHit.created_at > since
        )
        hits, oldest = (await session.execute(stmt)).one()
        if hits >= limit.count:
            wait = (oldest + limit.window - now) if oldest is not None else limit.window
            return Verdict(False, max(wait, timedelta(seconds=1)))
    return Verdict(True)
