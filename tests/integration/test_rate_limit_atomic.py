"""Rate limits hold under concurrency: twelve transactions taking one key at the same moment,
each on its own connection, get exactly the limit's number of hits through, on SQLite and
PostgreSQL (issue 13, 1); and a key of any length is stored (issue 13, no 5xx)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from payrequest.db.session import read_only_factory
from payrequest.kit.clock import utcnow
from payrequest.ratelimit import service as ratelimit
from payrequest.ratelimit.models import RateLimitHit
from payrequest.ratelimit.service import Limit
from tests.conftest import TEST_ORGANISATION

Sessions = async_sessionmaker[AsyncSession]
AT_ONCE = 12
LIMITS = (Limit(3, timedelta(minutes=10)),)


async def _take_at_once(sessions: Sessions, checks: Sequence[tuple[str, Sequence[Limit]]]) -> int:
    """AT_ONCE transactions take the keys together; each holds its transaction a moment after
    (as a request does its work) before committing. How many were let through."""
    ready = asyncio.Barrier(AT_ONCE)

    async def one() -> bool:
        async with sessions() as session, session.begin():
            await ready.wait()
            if len(checks) == 1:
                verdict = await ratelimit.take(session, key=checks[0][0], limits=checks[0][1])
            else:
                verdict = await ratelimit.take_all(session, checks)
            await asyncio.sleep(0.05)
            return verdict.allowed

    return sum(await asyncio.gather(*(one() for _ in range(AT_ONCE))))


async def test_simultaneous_takes_of_one_key_let_exactly_the_limit_through(
    sessions: Sessions,
) -> None:
    assert await _take_at_once(sessions, [("push:phone:+4797540218", LIMITS)]) == 3
    async with sessions() as session:
        rows = (await session.scalars(select(RateLimitHit.key))).all()
    # Counted in the bucket of the organisation the session acts for.
    assert rows == [f"org{TEST_ORGANISATION}:push:phone:+4797540218"] * 3


async def test_take_all_counts_every_key_or_none(sessions: Sessions) -> None:
    wide = (Limit(100, timedelta(minutes=10)),)
    checks = [("pay:ip:203.0.113.5", wide), ("pay:customer:7", LIMITS)]
    assert await _take_at_once(sessions, checks) == 3
    async with sessions() as session:
        ip_hits = await ratelimit.count(session, key="pay:ip:203.0.113.5", since=_an_hour_ago())
    assert ip_hits == 3  # the refused ones counted nothing


async def test_a_key_longer_than_the_column_is_stored_hashed_and_still_counts(
    sessions: Sessions,
) -> None:
    long_key = "portal-link:contact:" + "x" * 500 + "@example.no"
    nul_key = "portal-link:contact:kari\x00@example.no"
    for key in (long_key, long_key + "y", nul_key):
        for _ in range(3):
            async with sessions() as session, session.begin():
                assert (await ratelimit.take(session, key=key, limits=LIMITS)).allowed
        async with sessions() as session, session.begin():
            assert not (await ratelimit.take(session, key=key, limits=LIMITS)).allowed
            assert not (await ratelimit.check(session, key=key, limits=LIMITS)).allowed
            assert await ratelimit.count(session, key=key, since=_an_hour_ago()) == 3
            await ratelimit.forget(session, key=key)
            assert await ratelimit.count(session, key=key, since=_an_hour_ago()) == 0
    assert len(ratelimit.stored_key(long_key)) <= ratelimit.KEY_LENGTH


def _an_hour_ago() -> datetime:
    return utcnow() - timedelta(hours=1)


async def test_take_refuses_a_session_that_only_reads_on_sqlite(engine: AsyncEngine) -> None:
    """SQLite's read-only sessions begin without the write lock: a limit taken there would
    race, so it is refused (PostgreSQL locks the key in any session)."""
    if engine.dialect.name != "sqlite":
        return
    async with read_only_factory(engine)() as session:
        with pytest.raises(RuntimeError, match="writing session"):
            await ratelimit.take(session, key="k", limits=LIMITS)
