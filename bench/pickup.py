"""P7: job pickup latency, enqueue commit → handler start (target p50 ≤ 20 ms, p99 ≤ 100 ms).

A scratch PostgreSQL database; one `Worker` (the real runner, default 1 s poll) with a no-op
kind. A producer on its own engine enqueues one job per transaction through
`payrequest.jobs.queue.enqueue` (which NOTIFYs at commit) at random gaps, so arrivals do not
line up with the poll. Latency = handler start − the producer's commit returning.

Two runs side by side: `notify` (the worker's wake-ups come from a `PgListener`, as in
`payrequest worker`) and `polling` (no listener: the 1 s poll alone, the SQLite behaviour).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bench.report import percentile, record
from bench.support import scratch_database
from payrequest.db.pg_notify import JOBS_CHANNEL, PgListener
from payrequest.db.scope import ALL, scoped_to
from payrequest.db.session import create_engine, session_factory
from payrequest.jobs import queue
from payrequest.jobs.handlers import JobHandlers
from payrequest.jobs.runner import Worker

KIND = "bench.noop"


async def _run(url: str, *, jobs: int, use_notify: bool, gap_ms: float) -> list[float]:
    started: dict[int, float] = {}
    committed: dict[int, float] = {}
    handlers = JobHandlers()

    @handlers.job(KIND, timeout=timedelta(seconds=5))
    async def noop(_session: AsyncSession, payload: dict[str, Any]) -> None:
        started.setdefault(int(payload["n"]), time.perf_counter())

    worker_engine, producer_engine = create_engine(url), create_engine(url)
    listener = PgListener(url) if use_notify else None
    worker = Worker(
        session_factory(worker_engine),
        handlers,
        poll_interval=timedelta(seconds=1),
        wakeups=listener.wakeups(JOBS_CHANNEL) if listener else None,
    )
    producer = session_factory(producer_engine)
    try:
        if listener is not None:
            await listener.start()
            await asyncio.wait_for(listener.connected.wait(), 10)
        running = asyncio.create_task(worker.run())
        await asyncio.sleep(0.5)
        for n in range(jobs):
            # The installation's own jobs (no organisation), as periodic runs are.
            async with producer(info=scoped_to(ALL)) as session, session.begin():
                await queue.enqueue(session, kind=KIND, payload={"n": n})
            committed[n] = time.perf_counter()
            await asyncio.sleep(random.uniform(0.5, 1.5) * gap_ms / 1000)  # noqa: S311
        deadline = time.monotonic() + 5
        while len(started) < jobs and time.monotonic() < deadline:  # noqa: ASYNC110 - a bench
            await asyncio.sleep(0.05)
        await worker.stop()
        await running
    finally:
        if listener is not None:
            await listener.stop()
        await worker_engine.dispose()
        await producer_engine.dispose()
    if len(started) < jobs:
        raise SystemExit(f"only {len(started)} of {jobs} jobs ran")
    # A handler may start a hair before the producer's commit call returns: clamp at 0.
    return [max(0.0, (started[n] - committed[n]) * 1000) for n in range(jobs)]


def _line(name: str, ms: list[float]) -> str:
    return (
        f"| {name} | {len(ms)} | {percentile(ms, 50):.1f} | {percentile(ms, 95):.1f} | "
        f"{percentile(ms, 99):.1f} | {max(ms):.1f} |"
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench pickup", description=__doc__)
    parser.add_argument("--jobs", type=int, default=400, help="jobs per run (default 400)")
    parser.add_argument("--gap-ms", type=float, default=25.0, help="mean gap between enqueues")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, scratch_database("postgresql", Path(tmp)) as url:
        with_notify = asyncio.run(_run(url, jobs=args.jobs, use_notify=True, gap_ms=args.gap_ms))
        polling = asyncio.run(_run(url, jobs=args.jobs, use_notify=False, gap_ms=args.gap_ms))
    p50, p99 = percentile(with_notify, 50), percentile(with_notify, 99)
    verdict = "holds" if p50 <= 20 and p99 <= 100 else "MISSED"
    record(
        "P7 job pickup latency (PostgreSQL, enqueue commit → handler start)",
        [
            f"One worker (concurrency 4, 1 s poll), one producer enqueuing one job per "
            f"transaction every ~{args.gap_ms:g} ms (random gaps).",
            "",
            "| wake-up | jobs | p50 ms | p95 ms | p99 ms | max ms |",
            "|---|---|---|---|---|---|",
            _line("LISTEN/NOTIFY (+ poll)", with_notify),
            _line("polling only (1 s)", polling),
            "",
            f"Target p50 ≤ 20 ms, p99 ≤ 100 ms with LISTEN/NOTIFY: **{verdict}** "
            f"(p50 {p50:.1f} ms, p99 {p99:.1f} ms). Polling alone: p50 "
            f"{percentile(polling, 50):.0f} ms, i.e. about half the poll interval.",
        ],
    )
