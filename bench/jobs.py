# ruff: noqa: S608 - SQL built from this module's own constants, never from input
"""P6: drain of `--jobs` queued no-op jobs on PostgreSQL vs pgbench on the same claim/complete
SQL, batched the same way. Target: ours ≥ 0.5× the anchor.

Ours: `--processes` OS processes (default 1), each running one real `Worker`
(payrequest.jobs.runner) with concurrency `--concurrency / --processes`. The worker claims as
many jobs as it has free slots in one autocommitted statement (leases.CLAIM: UPDATE ...
RETURNING over a MATERIALIZED CTE with FOR UPDATE SKIP LOCKED, LIMIT = free slots) and runs
each job's handler in its own session; a no-op handler never reaches the database, so its
completion goes into the worker's group commit (jobs.completions): one autocommitted
leases.COMPLETE_MANY (the same lease guard, `(id, attempts) IN (...)`) for every job that
finished while the previous one ran. Rate = jobs done / time until the count query sees all
done (capped at `--seconds`). The children count their claim statements by LIMIT and their
complete statements by size, and measure their own CPU time (user + system) over the drain.

Anchor, same run, the table re-seeded (TRUNCATE + INSERT + VACUUM ANALYZE): pgbench
`-c <concurrency> -j 2 -M prepared` running one script per claim size k that ours used, weighted
by how many claims of that size ours ran: leases.CLAIM with LIMIT k, autocommitted, then the k
claimed jobs completed with leases.COMPLETE_MANY, autocommitted, in statements of c jobs, c =
ours' mean complete batch rounded (at least 1): so the anchor sends about as many complete
statements per job as ours did (both counts are reported). Both statements are rendered from
the compiled SQLAlchemy statements themselves (`pg_sql`), parameters written in: `now()` for
the clock, `'pgbench-' || client_id` for the worker. The one addition: pgbench keeps one row per
query, so the claim is wrapped as `WITH ..., claimed AS (<claim>) SELECT array_agg(id),
array_agg(attempts) FROM claimed` and the completes take their ids from those arrays. Anchor
rate = jobs done (count query) / pgbench's time (transactions / tps). A second pgbench run,
reported as a reference but not the target's anchor, completes each job in a transaction of
its own instead (BEGIN, leases.COMPLETE, COMMIT): the path of a handler that writes, whose
completion must share its commit.

The claim reads one range of the partial index ix_jobs_queued_run_at (expired leases are
requeued by reap), so its cost does not grow with the backlog.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing.queues import Queue as MpQueue
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import psycopg2
from sqlalchemy.ext.asyncio import AsyncSession

from bench.report import record
from bench.support import pg_dsn, scalar, scratch_database
from payrequest.db.session import create_engine, session_factory
from payrequest.jobs import leases
from payrequest.jobs.handlers import JobHandlers
from payrequest.jobs.runner import Worker

KIND = "bench.noop"

SEED_SQL = f"""
INSERT INTO jobs (kind, payload, status, run_at, attempts, max_attempts, created_at, updated_at)
SELECT '{KIND}', '{{}}', 'queued', now() - interval '1 minute', 0, 20, now(), now()
FROM generate_series(1, :count)
"""


def pg_sql(statement: Any, values: dict[str, str]) -> str:
    """`statement` as SQLAlchemy compiles it for PostgreSQL, each named parameter replaced by
    the SQL in `values`; anonymous ones (the `+ 1`, a NULL) written in as literals."""
    compiled = statement.compile(dialect=psycopg2.dialect())  # type: ignore[no-untyped-call]

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in values:
            return values[name]
        if name in compiled.params:
            value = compiled.params[name]
            if value is None:
                return "NULL"
            if isinstance(value, int):
                return str(value)
        raise ValueError(f"no SQL for parameter {name!r}")

    rendered = re.sub(r"%\((\w+)\)s|__\[POSTCOMPILE_(\w+)\]", replace, compiled.string)
    return " ".join(rendered.split())


WORKER = "'pgbench-' || (:client_id)::text"


@dataclass
class Tally:
    """What a worker process did over the drain."""

    claims: Counter[int] = field(default_factory=Counter)  # claims that took jobs, by LIMIT
    completes: Counter[int] = field(default_factory=Counter)  # COMPLETE_MANY, by jobs in it
    cpu: float = 0.0  # seconds of CPU, user + system

    def add(self, other: Tally) -> None:
        self.claims.update(other.claims)
        self.completes.update(other.completes)
        self.cpu += other.cpu

    @property
    def mean_complete(self) -> float:
        total = self.completes.total()
        return sum(size * n for size, n in self.completes.items()) / total if total else 0.0


def _claim_line(limit: int) -> str:
    """leases.CLAIM of `limit` jobs, its ids and attempts kept in :ids and :attempts."""
    claim = pg_sql(
        leases.CLAIM,
        {
            "kinds": f"'{KIND}'",
            "limit": str(limit),
            "due_before": "now()",
            "worker_id": WORKER,
            "lease_until": "now() + interval '45 seconds'",
            "now": "now()",
        },
    )
    candidates, update = claim.split(") UPDATE jobs SET ", 1)  # end of the CTE, the UPDATE
    return (
        f"{candidates}), claimed AS (UPDATE jobs SET {update}) "
        "SELECT coalesce(array_agg(claimed.id), '{}') AS ids, "
        "coalesce(array_agg(claimed.attempts), '{}') AS attempts FROM claimed \\gset"
    )


def _held(index: int) -> str:
    return f"((:ids::integer[])[{index}], (:attempts::integer[])[{index}])"


def pg_script(limit: int, *, chunk: int | None) -> str:
    """One claim of `limit` jobs, then their completes: leases.COMPLETE_MANY autocommitted for
    every `chunk` of them, or, with `chunk=None`, per job leases.COMPLETE in a transaction of
    its own (BEGIN, complete, COMMIT: what the worker sends for a handler that writes)."""
    lines = [_claim_line(limit)]
    if chunk is None:
        for index in range(1, limit + 1):
            complete = pg_sql(
                leases.COMPLETE,
                {
                    "job_id": f"(:ids::integer[])[{index}]",
                    "worker_id": WORKER,
                    "held_attempts": f"(:attempts::integer[])[{index}]",
                    "now": "now()",
                },
            )
            lines += ["BEGIN;", f"{complete};", "COMMIT;"]
        return "\n".join(lines) + "\n"
    for first in range(1, limit + 1, chunk):
        held = ", ".join(_held(index) for index in range(first, min(limit, first + chunk - 1) + 1))
        complete = pg_sql(leases.COMPLETE_MANY, {"held": held, "worker_id": WORKER, "now": "now()"})
        lines.append(f"{complete};")
    return "\n".join(lines) + "\n"


async def _seed(url: str, count: int) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("TRUNCATE jobs RESTART IDENTITY"))
            await connection.execute(text(SEED_SQL), {"count": count})
            await connection.execute(text("VACUUM ANALYZE jobs"))
    finally:
        await engine.dispose()


def _child(
    url: str,
    concurrency: int,
    ready: MpEvent,
    start: MpEvent,
    stop: MpEvent,
    results: MpQueue[Tally],
) -> None:
    """One worker process: a real `Worker` with a no-op handler until `stop` is set. Puts its
    `Tally` on `results`: its claims that took jobs by LIMIT, its complete statements by
    size, and its CPU seconds from `start` to `stop`."""
    tally = Tally()
    claim, complete_many = leases.claim, leases.complete_many

    async def counting_claim(*args: Any, limit: int, **kwargs: Any) -> list[leases.Claimed]:
        claimed = await claim(*args, limit=limit, **kwargs)
        if claimed:
            tally.claims[limit] += 1
        return claimed

    async def counting_complete(*args: Any, jobs: Any, **kwargs: Any) -> set[int]:
        tally.completes[len(jobs)] += 1
        return await complete_many(*args, jobs=jobs, **kwargs)

    leases.claim = counting_claim  # the worker calls them as leases.claim, ...
    leases.complete_many = counting_complete

    async def run() -> None:
        handlers = JobHandlers()

        @handlers.job(KIND, timeout=timedelta(seconds=5))
        async def noop(_session: AsyncSession, _payload: dict[str, Any]) -> None:
            return None

        engine = create_engine(url, pool_size=concurrency + 2)
        worker = Worker(
            session_factory(engine),
            handlers,
            concurrency=concurrency,
            poll_interval=timedelta(seconds=1),
        )
        try:
            async with engine.connect() as connection:  # warm the pool's first connection
                await connection.execute(text("SELECT 1"))
            ready.set()
            while not start.is_set():  # noqa: ASYNC110 - a bench, a cross-process event
                await asyncio.sleep(0.005)
            cpu = time.process_time()
            running = asyncio.create_task(worker.run())
            deadline = time.monotonic() + 600
            while not stop.is_set() and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            tally.cpu = time.process_time() - cpu
            await worker.stop(grace=5)
            await running
        finally:
            await engine.dispose()

    asyncio.run(run())
    results.put(tally)


def _ours(
    url: str, jobs: int, processes: int, concurrency: int, seconds: float
) -> tuple[dict[str, float], Tally]:
    context = multiprocessing.get_context("spawn")
    start, stop = context.Event(), context.Event()
    results: MpQueue[Tally] = context.Queue()
    total = Tally()
    per = max(1, concurrency // processes)
    children = []
    readies = []
    try:
        for _ in range(processes):
            ready = context.Event()
            child = context.Process(target=_child, args=(url, per, ready, start, stop, results))
            child.start()
            children.append(child)
            readies.append(ready)
        for ready, child in zip(readies, children, strict=True):
            deadline = time.monotonic() + 60
            while not ready.wait(0.2):
                if not child.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("a worker process did not start")
        started = time.perf_counter()
        start.set()
        done, elapsed = asyncio.run(_watch(url, jobs, started, seconds))
        stop.set()
        for _ in children:
            total.add(results.get(timeout=60))
    finally:
        stop.set()
        for child in children:
            child.join(30)
            if child.is_alive():
                child.kill()
                child.join(5)
    return {"done": done, "elapsed": elapsed, "tps": done / elapsed, "per": per}, total


async def _watch(url: str, jobs: int, started: float, seconds: float) -> tuple[int, float]:
    """Poll the done count (every 20 ms) until all `jobs` are done or `seconds` have passed."""
    engine = create_engine(url)
    sql = text("SELECT count(*) FROM jobs WHERE status = 'done'")
    try:
        async with engine.connect() as connection:
            while True:
                done = int((await connection.execute(sql)).scalar_one())
                await connection.commit()
                elapsed = time.perf_counter() - started
                if done >= jobs or elapsed >= seconds:
                    return done, elapsed
                await asyncio.sleep(0.02)
    finally:
        await engine.dispose()


def _pgbench(
    url: str, scripts: list[tuple[Path, int]], concurrency: int, per_client: int
) -> tuple[float, str]:
    """Run the weighted scripts; return pgbench's time in seconds (transactions / tps, without
    connection set-up) and its count of failed transactions."""
    args = ["pgbench", "-n", "-M", "prepared", "-c", str(concurrency), "-j", "2"]
    args += ["-t", str(per_client)]
    for script, weight in scripts:
        args += ["-f", f"{script}@{weight}"]
    out = subprocess.run([*args, *pg_dsn(url)], capture_output=True, text=True, check=False)  # noqa: S603
    found = re.search(r"tps = ([0-9.]+) \((?:without|excluding)", out.stdout)
    processed = re.search(r"number of transactions actually processed: (\d+)", out.stdout)
    if out.returncode != 0 or not found or not processed:
        raise RuntimeError(f"pgbench failed: {out.stdout}\n{out.stderr}")
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
    return int(processed.group(1)) / float(found.group(1)), failed.group(1) if failed else "?"


def _anchor(
    url: str,
    tmp: Path,
    count: int,
    concurrency: int,
    tally: Tally,
    *,
    chunk: int | None,
) -> tuple[str, float]:
    """pgbench with ours' mix of claim sizes, completes in statements of `chunk` jobs (None:
    one transaction per job); returns the report line and jobs/s."""
    by_limit = tally.claims
    if not by_limit:
        raise RuntimeError("our worker claimed nothing: no claim sizes to replay")
    mean = sum(limit * runs for limit, runs in by_limit.items()) / by_limit.total()
    per_client = max(1, round(count / mean / concurrency))
    # A random mix claims about `count` jobs; the slack keeps every claim full.
    asyncio.run(_seed(url, count + count // 10))
    scripts = []
    statements = 0.0  # complete statements per claim, weighted as the scripts run
    for limit, runs in sorted(by_limit.items()):
        script = tmp / f"claim_{limit}_{chunk}.sql"
        script.write_text(pg_script(limit, chunk=chunk))
        scripts.append((script, runs))
        statements += runs * (limit if chunk is None else -(-limit // chunk))
    seconds, failed = _pgbench(url, scripts, concurrency, per_client)
    done = asyncio.run(scalar(url, "SELECT count(*) FROM jobs WHERE status = 'done'"))
    running = asyncio.run(scalar(url, "SELECT count(*) FROM jobs WHERE status = 'running'"))
    mix = ", ".join(f"LIMIT {limit} ×{runs}" for limit, runs in sorted(by_limit.items()))
    per_statement = mean * by_limit.total() / statements
    name = "anchor" if chunk is not None else "reference, not the target's anchor"
    completes = (
        f"their COMPLETE_MANY autocommitted in statements of up to {chunk} jobs (mean "
        f"{per_statement:.2f} jobs per complete statement)"
        if chunk is not None
        else "per job BEGIN; COMPLETE; COMMIT"
    )
    return (
        f"- {name}: `pgbench -n -M prepared -c {concurrency} -j 2 -t {per_client}`, one "
        f"script per claim size weighted as ours claimed ({mix}; mean {mean:.2f} jobs per "
        f"claim): the claim autocommitted, then {completes}: {done} jobs done in "
        f"{seconds:.2f} s (failed transactions: {failed}, left running: {running}) = "
        f"**{done / seconds:.0f} jobs/s**"
    ), done / seconds


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench jobs", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10, help="time cap for our drain")
    parser.add_argument("--concurrency", type=int, default=4, help="jobs in flight in all")
    parser.add_argument("--processes", type=int, default=1, help="worker processes (ours)")
    parser.add_argument("--jobs", type=int, default=5000, help="queued jobs to drain")
    args = parser.parse_args(argv)
    count = args.jobs
    with tempfile.TemporaryDirectory() as name, scratch_database("postgresql", Path(name)) as url:
        load_before = os.getloadavg()
        asyncio.run(_seed(url, count))
        ours, tally = _ours(url, count, args.processes, args.concurrency, args.seconds)
        chunk = max(1, round(tally.mean_complete))
        anchor_line, anchor_tps = _anchor(
            url, Path(name), count, args.concurrency, tally, chunk=chunk
        )
        reference_line, reference_tps = _anchor(
            url, Path(name), count, args.concurrency, tally, chunk=None
        )
        load_after = os.getloadavg()
    ratio = ours["tps"] / anchor_tps
    verdict = "meets" if ratio >= 0.5 else "MISSES"
    drained = "all" if ours["done"] >= count else f"only {ours['done']:.0f} (time cap)"
    sizes = ", ".join(f"{size} ×{n}" for size, n in sorted(tally.completes.items()))
    record(
        "P6 job drain, no-op handler (PostgreSQL) vs pgbench on the same claim/complete SQL",
        [
            f"- machine load (1/5/15 min) before: {' '.join(f'{x:.2f}' for x in load_before)}, "
            f"after: {' '.join(f'{x:.2f}' for x in load_after)} (other work shares this "
            "2-core machine: absolute numbers are noisy; both sides ran back to back)",
            f"- drain of {count} queued no-op jobs (the table re-seeded before the anchor)",
            f"- ours: {args.processes} worker processes × `Worker(concurrency={ours['per']:.0f})`"
            f": {drained} done in {ours['elapsed']:.2f} s = **{ours['tps']:.0f} jobs/s**; "
            f"{tally.claims.total()} claim statements, {tally.completes.total()} complete "
            f"statements (jobs in one: {sizes}; mean {tally.mean_complete:.2f}); CPU in the "
            f"worker processes {tally.cpu:.2f} s = "
            f"**{tally.cpu / max(1.0, ours['done']) * 1e6:.0f} µs per job**",
            anchor_line,
            f"- ratio ours/anchor = **{ratio:.2f}** (target ≥ 0.5): {verdict}",
            reference_line,
            f"- ratio ours/reference = {ours['tps'] / reference_tps:.2f} (the reference is "
            "what the completes would cost if every handler wrote, each completion in its "
            "handler's transaction)",
        ],
    )
