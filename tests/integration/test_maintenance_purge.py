"""The worker's housekeeping purges expired rate-limit hits (forged webhooks added one row each
for ever, issue 13, 7) and sign-in sessions a day after they ended or expired."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.api_keys import service as api_keys
from payrequest.api_keys.models import IdempotentRequest
from payrequest.config import load_settings
from payrequest.db.scope import ALL, scoped_to
from payrequest.jobs.maintenance import PURGE_JOB
from payrequest.kit.clock import utcnow
from payrequest.ratelimit.models import RateLimitHit
from payrequest.runtime import build_runtime
from payrequest.sessions import service as sign_ins
from payrequest.sessions.models import SignInSession
from tests.conftest import TEST_ORGANISATION
from tests.factories import make_customer

Sessions = async_sessionmaker[AsyncSession]


async def test_the_worker_purges_old_rate_limit_hits_and_finished_sign_ins(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    now = utcnow()
    async with sessions() as session, session.begin():
        session.add_all(
            [
                RateLimitHit(key="webhook:rejected", created_at=now - timedelta(days=3)),
                RateLimitHit(key="webhook:rejected", created_at=now - timedelta(days=3)),
                RateLimitHit(key="webhook:rejected", created_at=now - timedelta(hours=20)),
                RateLimitHit(key="portal-link:ip:203.0.113.5", created_at=now),
            ]
        )
        customer = await make_customer(session)
        ended = await sign_ins.start_portal(
            session, customer_id=customer.id, organisation_id=TEST_ORGANISATION
        )
        expired = await sign_ins.start_portal(
            session,
            customer_id=customer.id,
            organisation_id=TEST_ORGANISATION,
            lifetime=timedelta(days=-2),
        )
        live = await sign_ins.start_portal(
            session, customer_id=customer.id, organisation_id=TEST_ORGANISATION
        )
        recently = await sign_ins.start_portal(
            session, customer_id=customer.id, organisation_id=TEST_ORGANISATION
        )
        await sign_ins.end(session, token=ended.token)
        await sign_ins.end(session, token=recently.token)
        await session.flush()
        old = await session.get(SignInSession, ended.session_id)
        assert old is not None
        old.ended_at = now - timedelta(days=2)

    runtime = build_runtime(load_settings(database_url=database_url, var_dir=tmp_path))
    try:
        # A periodic job of the installation: it runs for every organisation.
        async with sessions(info=scoped_to(ALL)) as session, session.begin():
            await runtime.handlers.spec(PURGE_JOB).handler(session, {})
    finally:
        await runtime.close()

    async with sessions() as session:
        hits = (await session.scalars(select(RateLimitHit.created_at))).all()
        kept = set((await session.scalars(select(SignInSession.id))).all())
    assert len(hits) == 2  # within the longest window (a day) they stay
    assert kept == {live.session_id, recently.session_id}
    assert expired.session_id not in kept


async def test_the_worker_forgets_api_idempotency_records_after_a_day(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    async with sessions() as session, session.begin():
        made = await api_keys.create_key(session, name="ERP", scope="write", actor_id=None)
        for key, age in (("old", timedelta(hours=25)), ("young", timedelta(hours=23))):
            session.add(
                IdempotentRequest(
                    api_key_id=made.row.id,
                    key=key,
                    method="POST",
                    path="/api/v1/customers",
                    fingerprint="0" * 64,
                    response_status=201,
                    response_body="{}",
                    created_at=utcnow() - age,
                )
            )
    runtime = build_runtime(load_settings(database_url=database_url, var_dir=tmp_path))
    try:
        async with sessions(info=scoped_to(ALL)) as session, session.begin():
            await runtime.handlers.spec(PURGE_JOB).handler(session, {})
    finally:
        await runtime.close()
    async with sessions() as session:
        kept = (await session.scalars(select(IdempotentRequest.key))).all()
    assert kept == ["young"]
