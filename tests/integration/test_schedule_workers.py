"""Every reminder step starts exactly once with two worker processes, one of them killed (-9)
again and again while the scheduler is at work: PostgreSQL, real `payrequest worker`
processes, two calendar flows over 200 invoices due today (400 steps). Afterwards each
(flow, invoice) has one mark, one step event and one run, and every run is done.

Bounded: four kills, loopback only, a minute at most to settle.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.automations import service, timing
from payrequest.automations.models import FlowRun, ScheduleMark
from payrequest.db.session import create_engine, session_factory
from payrequest.events.models import OutboxEvent
from payrequest.kit.crypto import SecretBox
from tests import servers
from tests.factories import make_customer, make_invoice
from tests.integration.test_multiprocess import fresh_postgresql  # noqa: F401 - a fixture

pytestmark = pytest.mark.postgres

Sessions = async_sessionmaker[AsyncSession]
INVOICES = 200
FLOWS = 2
SETTLE = 90  # seconds for the last steps and runs after the last restart


@pytest.fixture
async def sessions(fresh_postgresql: str) -> AsyncIterator[Sessions]:  # noqa: F811
    engine = create_engine(fresh_postgresql)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
def env(fresh_postgresql: str, tmp_path: Path) -> Iterator[dict[str, str]]:  # noqa: F811
    values = {
        "PAYREQUEST_DATABASE_URL": fresh_postgresql,
        "PAYREQUEST_SECRET_KEY": secrets.token_hex(32),
        "PAYREQUEST_PROVIDER_MODE": "sandbox",
        "PAYREQUEST_AUTOMATIONS__SCHEDULE_SECONDS": "1",
    }
    migrated = subprocess.run(
        [*servers.PAYREQUEST, "migrate"],
        env=servers.payrequest_env(tmp_path, **values),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    yield values


def _worker(tmp_path: Path, env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
    log = (tmp_path / f"{name}-{time.monotonic_ns()}.log").open("wb")
    try:
        return subprocess.Popen(
            [*servers.PAYREQUEST, "worker"],
            env=servers.payrequest_env(tmp_path, **env),
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    finally:
        log.close()


async def _seed(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        for trigger in (timing.INVOICE_DUE, timing.INVOICE_OVERDUE):  # both: due today
            draft = service.Draft(
                name=trigger,
                trigger=trigger,
                actions=[{"kind": "wait", "config": {"minutes": 1}}],
                timing={"days": 0, "missed": "late", "quiet_hours": False, "weekends": True},
            )
            flow = await service.save(session, draft=draft, box=SecretBox("k"), allow=())
            await service.set_enabled(session, flow_id=flow.id, enabled=True)
        for n in range(INVOICES):
            customer = await make_customer(session, phone=f"+47 9{n:07d}")
            await make_invoice(session, customer, amount=10_000 + n, due_in_days=0)


async def _count(sessions: Sessions, statement: object) -> int:
    async with sessions() as session:
        return int(await session.scalar(statement) or 0)  # type: ignore[call-overload]


async def test_two_workers_and_kill_9_start_every_step_once(
    sessions: Sessions, env: dict[str, str], tmp_path: Path
) -> None:
    await _seed(sessions)
    steps = INVOICES * FLOWS
    workers = {name: _worker(tmp_path, env, name) for name in ("a", "b")}
    try:
        for round_ in range(4):  # kill -9 one worker while the scheduler works, restart it
            await asyncio.sleep(2.5)
            name = "ab"[round_ % 2]
            workers[name].kill()
            workers[name].wait(timeout=10)
            workers[name] = _worker(tmp_path, env, name)
        done = select(func.count()).select_from(FlowRun).where(FlowRun.status == "done")
        for _ in range(SETTLE * 2):
            if await _count(sessions, done) >= steps:
                break
            await asyncio.sleep(0.5)
    finally:
        for process in workers.values():
            process.terminate()
        for process in workers.values():
            process.wait(timeout=15)

    marks = await _count(sessions, select(func.count()).select_from(ScheduleMark))
    events = await _count(
        sessions,
        select(func.count())
        .select_from(OutboxEvent)
        .where(OutboxEvent.name.in_(timing.TIME_TRIGGERS)),
    )
    distinct_runs = await _count(
        sessions, select(func.count(func.distinct(FlowRun.outbox_event_id)))
    )
    runs = await _count(sessions, select(func.count()).select_from(FlowRun))
    assert (marks, events, runs, distinct_runs) == (steps, steps, steps, steps), _logs(tmp_path)
    assert await _count(sessions, done) == steps


def _logs(tmp_path: Path) -> str:
    return "\n".join(
        f"--- {p.name} ---\n{p.read_text(errors='replace')[-2000:]}"
        for p in sorted(tmp_path.glob("*.log"))
    )
