"""asyncpg or psycopg 3 under SQLAlchemy: our own statements, same machine, same run.

For each driver, a scratch PostgreSQL database seeded the same way, then `--concurrency`
tasks for `--seconds` each:

- webhook apply: one transaction per CAPTURED event through `inbound.service.receive` (inbox
  row, request locked and paid, allocations, outbox, NOTIFY) — what `POST /webhooks/vipps` does
  after verifying the signature;
- job claim + complete: `leases.claim` (FOR UPDATE SKIP LOCKED, one job) in one transaction,
  `leases.complete` in the next — what the worker does around a no-op handler.

Prints transactions per second and latency percentiles for each, and the psycopg/asyncpg ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.report import percentile, record
from bench.support import scratch_database, seed_sql
from bench.webhooks import apply_captured
from payrequest.db.session import session_factory
from payrequest.jobs import leases
from payrequest.kit.clock import utcnow

DRIVERS = ("asyncpg", "psycopg")
KIND = "bench.noop"
Step = Callable[[], Awaitable[None]]


def _engine(url: str, driver: str, pool: int) -> AsyncEngine:
    full = make_url(url).set(drivername=f"postgresql+{driver}")
    return create_async_engine(full, pool_size=pool, max_overflow=0)


async def _drive(step: Step, concurrency: int, seconds: float) -> tuple[int, list[float]]:
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def loop() -> None:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            await step()
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return len(latencies), latencies


Result = tuple[int, list[float]]


async def _webhooks(url: str, driver: str, concurrency: int, seconds: float, seed: int) -> Result:
    references = iter(await seed_sql(url, seed))
    engine = _engine(url, driver, concurrency)
    sessions = session_factory(engine)
    counter = iter(range(10**9))

    async def apply() -> None:
        await apply_captured(sessions, next(references), next(counter))

    try:
        await apply()  # warm the pool and the prepared statements
        return await _drive(apply, concurrency, seconds)
    finally:
        await engine.dispose()


async def _jobs(url: str, driver: str, concurrency: int, seconds: float, seed: int) -> Result:
    engine = _engine(url, driver, concurrency)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO jobs (kind, payload, status, run_at, attempts, max_attempts, "
                "created_at, updated_at) SELECT :kind, '{}', 'queued', :now, 0, 20, :now, :now "
                "FROM generate_series(1, :n)"
            ),
            {"kind": KIND, "now": utcnow(), "n": seed},
        )
    sessions = session_factory(engine)
    lease = timedelta(seconds=60)

    async def claim_and_complete() -> None:
        async with sessions() as session, session.begin():
            claimed = await leases.claim(
                session, worker_id="bench", kinds=[KIND], limit=1, now=utcnow(), lease=lease
            )
        if not claimed:
            raise RuntimeError("the queue ran dry: raise the seed")
        async with sessions() as session, session.begin():
            if not await leases.complete(session, job=claimed[0], worker_id="bench", now=utcnow()):
                raise RuntimeError("lease lost")

    try:
        await claim_and_complete()
        return await _drive(claim_and_complete, concurrency, seconds)
    finally:
        await engine.dispose()


def _row(driver: str, what: str, count: int, seconds: float, ms: list[float]) -> str:
    return (
        f"| {what} | {driver} | {count / seconds:,.0f} | {percentile(ms, 50):.1f} | "
        f"{percentile(ms, 99):.1f} |"
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench drivers", description=__doc__)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0, help="per driver, workload, round")
    parser.add_argument("--rounds", type=int, default=2, help="alternating driver order")
    parser.add_argument("--seed", type=int, default=40_000, help="requests / jobs seeded")
    args = parser.parse_args(argv)
    results: dict[tuple[str, str], list[Result]] = {}
    workloads = (("webhook apply", _webhooks), ("job claim + complete", _jobs))
    for workload, run in workloads:
        for round_ in range(args.rounds):
            order = DRIVERS if round_ % 2 == 0 else tuple(reversed(DRIVERS))
            for driver in order:
                with (
                    tempfile.TemporaryDirectory() as tmp,
                    scratch_database("postgresql", Path(tmp)) as url,
                ):
                    result = asyncio.run(
                        run(url, driver, args.concurrency, args.seconds, args.seed)
                    )
                results.setdefault((workload, driver), []).append(result)
                print(f"{workload} {driver}: {result[0] / args.seconds:,.0f}/s", flush=True)
    total = args.seconds * args.rounds
    rows, rates = [], {}
    for (workload, driver), runs in results.items():
        count = sum(c for c, _ in runs)
        latencies = [ms for _, values in runs for ms in values]
        rates[workload, driver] = count / total
        rows.append(_row(driver, workload, count, total, latencies))
    ratios = [
        f"- {workload}: psycopg / asyncpg = "
        f"{rates[workload, 'psycopg'] / rates[workload, 'asyncpg']:.2f}"
        for workload, _ in workloads
    ]
    record(
        "Database driver: asyncpg vs psycopg 3 (PostgreSQL, through SQLAlchemy)",
        [
            f"Concurrency {args.concurrency}; {args.rounds} rounds of {args.seconds:g} s per "
            "driver and workload, driver order alternating, each run on a fresh scratch "
            "database seeded the same way; client and server on this machine.",
            "",
            "| workload | driver | transactions/s | p50 ms | p99 ms |",
            "|---|---|---|---|---|",
            *rows,
            "",
            *ratios,
        ],
    )
