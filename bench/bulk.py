"""P8: bulk send of N payment requests to a standalone emulator (rate limits off).

The emulator runs as its own process (`payrequest sandbox`, in memory, per-reference rate limits
switched off through its /faults API); a fresh database holds N customers with one open
invoice each; `payment_requests.bulk.run` (what `payrequest requests send-bulk` runs, without
the progress bar) creates and sends one request per customer. Afterwards every request of the
batch is checked to be `pending`, i.e. created at the emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.report import record
from bench.support import scalar, scratch_database, seed_sql, standalone_emulator
from payrequest import __version__
from payrequest.config import load_settings
from payrequest.db.session import create_engine, session_factory
from payrequest.payment_requests import bulk
from payrequest.payment_requests.service import Lifetime
from payrequest.providers.base import OneProvider
from payrequest.providers.vipps.factory import build_vipps


async def _run(url: str, emulator: str, concurrency: int, count: int) -> tuple[bulk.Summary, float]:
    settings = load_settings(
        database_url=url, provider_mode="sandbox", vipps={"base_url": emulator}
    )
    engine = create_engine(url, pool_size=concurrency + 2)
    provider = build_vipps(settings, version=__version__)
    done = 0
    started = time.perf_counter()

    def progress(_item: bulk.Planned, _outcome: str) -> None:
        nonlocal done
        done += 1
        if done % 1000 == 0:
            print(f"  {done}/{count} in {time.perf_counter() - started:.0f} s", flush=True)

    try:
        summary = await bulk.run(
            session_factory(engine),
            OneProvider(provider),
            lifetime=Lifetime(60, provider.capabilities),
            bulk_filter=bulk.BulkFilter(currency="NOK"),
            batch_id="bench",
            concurrency=concurrency,
            on_done=progress,
        )
    finally:
        await provider.close()
        await engine.dispose()
    return summary, time.perf_counter() - started


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench bulk")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="postgresql")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        with (
            standalone_emulator(tmp, rate_limits=False) as emulator,
            scratch_database(args.database, tmp) as url,
        ):
            asyncio.run(seed_sql(url, args.requests, requests=False))
            summary, elapsed = asyncio.run(_run(url, emulator, args.concurrency, args.requests))
            pending = asyncio.run(
                scalar(url, "SELECT count(*) FROM payment_requests WHERE status = 'pending'")
            )
    rate = summary.handled / elapsed
    load = Path("/proc/loadavg").read_text().split()[:3]
    record(
        f"P8 bulk send, {args.requests} requests ({args.database})",
        [
            f"- machine load at the end (1/5/15 min): {' '.join(load)}",
            f"- {summary.sent} sent, {summary.failed} refused, {summary.skipped} skipped, "
            f"{summary.retry_later} to retry, in {elapsed:.1f} s = **{rate:.0f} requests/s** "
            f"(concurrency {args.concurrency}, standalone emulator process, rate limits off)",
            f"- verified: {pending} requests `pending` (created at the emulator) in the database",
            f"- extrapolated to 10 000 requests: {10_000 / rate / 60:.1f} min",
        ],
    )
