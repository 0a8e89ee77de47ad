# ruff: noqa: S608 - SQL built from this module's own constants, never from input
"""P1a/P1b (PostgreSQL), P2a/P2b (SQLite): batched webhooks (PAYREQUEST_INBOUND__APPLY=batched).

P1a ack: the app served by uvicorn (`bench.server`, no worker, batched), driven over real HTTP
by `--concurrency` keep-alive connections with signed CAPTURED events, each for a different
pending request; counted: answers 200 "received". Anchor, same run and concurrency: pgbench
doing the inbox's one `INSERT … ON CONFLICT DO NOTHING` per transaction (PostgreSQL), a raw
sqlite3 loop doing it (SQLite).

P1b apply: a backlog of `--backlog` received CAPTURED events (seeded with SQL, as acknowledging
leaves them) drained in-process by `inbound.drain.drain` (what the worker's drain job runs),
`--batch` events a transaction; counted: events applied per second, checked afterwards (every
request paid, allocated, announced). Anchor: today's per-event apply statements as one
transaction per event (`bench.webhooks.pg_script` with pgbench at `--concurrency`; SQLite: the
raw loop `bench.webhooks.sqlite_loop`). Also CPU per event of the drain (process time).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvloop
from sqlalchemy import text

from bench.report import record
from bench.support import (
    free_port,
    scalar,
    scratch_database,
    seed_sql,
    serve,
    server_env,
    standalone_emulator,
)
from bench.webhooks import (
    VERIFY_SQL,
    _create_sequence,
    _literal,
    _server_secret,
    closed_loop,
    event_body,
    pg_script,
    run_pgbench,
    signed_requests,
    sqlite_loop,
)
from payrequest.config import load_settings
from payrequest.db.session import create_engine
from payrequest.inbound import drain
from payrequest.runtime import build_runtime

HEADERS = '{"content-type": "application/json"}'


def ack_script() -> str:
    """The inbox's INSERT as acknowledging issues it, with a body and headers of the same size
    (one per pgbench transaction; a key per transaction)."""
    body = _literal(event_body("bench-C0000001", 1).decode())
    headers = _literal(HEADERS)
    return (
        "\\set i random(1, 1000000000)\n"
        "INSERT INTO inbound_events (organisation_id, provider, dedupe_key, reference, "
        "event_name, body, headers, status, received_at) VALUES (1, 'vipps', "
        "'k' || :i || '-' || :client_id, 'bench-C0000001', 'captured', "
        f"{body}, {headers}::json, 'received', now()) "
        "ON CONFLICT (provider, dedupe_key) DO NOTHING RETURNING id;\n"
    )


# --- P1a: acknowledging -----------------------------------------------------------------------


def _ack_ours(url: str, tmp: Path, references: list[str], args: argparse.Namespace) -> float:
    port = free_port()
    with contextlib.ExitStack() as stack:
        extra = {"PAYREQUEST_INBOUND__APPLY": "batched"}
        if args.processes > 1:  # the processes must share one emulator (for the registration)
            extra["PAYREQUEST_VIPPS__BASE_URL"] = stack.enter_context(standalone_emulator(tmp))
        server = serve(server_env(url, tmp, port, **extra), port, workers=args.processes)
        stack.callback(server.stop)
        secret = asyncio.run(_server_secret(url, tmp / "var"))
        requests = signed_requests(references, secret, server.url)
        asyncio.run(closed_loop(port, requests[:200], args.concurrency, 30, b'"received"'))
        sent, ok, elapsed = asyncio.run(
            closed_loop(port, requests[200:], args.concurrency, args.seconds, b'"received"')
        )
    if ok < sent:
        raise RuntimeError(f"{sent - ok} of {sent} webhooks were not answered 'received'")
    return ok / elapsed


def _ack_anchor_sqlite(path: str, seconds: float) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL"):
        db.execute(f"PRAGMA {pragma}")
    now = datetime.now(UTC).isoformat(" ")
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO inbound_events (organisation_id, provider, dedupe_key, reference, "
            "event_name, body, headers, status, received_at) VALUES (1, 'vipps', ?, "
            "'bench-C0000001', 'captured', 'x', '{}', 'received', ?) ON CONFLICT (provider, "
            "dedupe_key) DO NOTHING RETURNING id",
            (f"k{done}", now),
        ).fetchall()
        db.execute("COMMIT")
        done += 1
    elapsed = time.perf_counter() - started
    db.close()
    return done / elapsed


# --- P1b: draining a backlog -------------------------------------------------------------------


async def _seed_backlog(url: str, references: list[str]) -> None:
    """The inbox as acknowledging leaves it: one received CAPTURED event per request."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    rows = [
        {
            "key": f"123456:{reference}:psp-{n}:captured",
            "reference": reference,
            "body": event_body(reference, n).decode(),
            "now": now if engine.dialect.name != "sqlite" else now.isoformat(" "),
        }
        for n, reference in enumerate(references)
    ]
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO inbound_events (organisation_id, provider, dedupe_key, reference,"
                    " event_name, body, headers, status, received_at) VALUES (1, 'vipps', :key,"
                    f" :reference, 'captured', :body, '{HEADERS}', 'received', :now)"
                ),
                rows,
            )
    finally:
        await engine.dispose()


async def _drain_ours(url: str, tmp: Path, batch: int) -> tuple[float, float, int]:
    """(events/s, CPU ms per event, events applied)."""
    settings = load_settings(
        database_url=url, var_dir=tmp / "drain", provider_mode="sandbox", public_url="http://x"
    )
    runtime = build_runtime(settings)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        done = await drain.drain(
            runtime.sessions, runtime.providers, batch_size=batch, budget=timedelta(hours=2)
        )
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await runtime.close()
    if done.failed or done.unmatched:
        raise RuntimeError(f"drain: {done}")
    return done.applied / wall, 1000 * cpu / max(done.applied, 1), done.applied


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench inbox")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--backlog", type=int, default=20_000, help="events drained (P1b)")
    parser.add_argument("--batch", type=int, default=200, help="events per transaction (P1b)")
    parser.add_argument("--requests", type=int, default=30_000, help="pending requests (P1a)")
    parser.add_argument("--processes", type=int, default=None, help="web processes (P1a)")
    args = parser.parse_args(argv)
    if args.processes is None:
        args.processes = 2 if args.database == "postgresql" else 1
    pg = args.database == "postgresql"
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for part in ("ack", "ack_anchor", "drain", "drain_anchor"):
            (tmp / part).mkdir()
        with contextlib.ExitStack() as stack:
            ack_url = stack.enter_context(scratch_database(args.database, tmp / "ack"))
            ack_anchor = stack.enter_context(scratch_database(args.database, tmp / "ack_anchor"))
            references = asyncio.run(seed_sql(ack_url, args.requests))
            asyncio.run(seed_sql(ack_anchor, 10))
            ack = _ack_ours(ack_url, tmp / "ack", references[:-1], args)
            if pg:
                script = tmp / "ack.sql"
                script.write_text(ack_script())
                ack_base, _ = run_pgbench(ack_anchor, script, args.concurrency, args.seconds)
                ack_what = f"pgbench -M prepared -c {args.concurrency}: one inbox INSERT a tx"
            else:
                ack_base = _ack_anchor_sqlite(ack_anchor.removeprefix("sqlite:///"), args.seconds)
                ack_what = "raw sqlite3 loop: one inbox INSERT a transaction"

        with contextlib.ExitStack() as stack:
            url = stack.enter_context(scratch_database(args.database, tmp / "drain"))
            anchor_url = stack.enter_context(scratch_database(args.database, tmp / "drain_anchor"))
            references = asyncio.run(seed_sql(url, args.backlog))
            asyncio.run(_seed_backlog(url, references))
            asyncio.run(seed_sql(anchor_url, args.backlog + 1000))
            rate, cpu, applied = uvloop.run(_drain_ours(url, tmp, args.batch))
            verified = asyncio.run(scalar(url, VERIFY_SQL))
            if verified != applied:
                raise RuntimeError(f"{applied} applied but {verified} paid + allocated + announced")
            if pg:
                _create_sequence(anchor_url)
                script = tmp / "apply.sql"
                script.write_text(pg_script(notify=True))
                base, _ = run_pgbench(anchor_url, script, args.concurrency, args.seconds)
                what = f"pgbench -M prepared -c {args.concurrency}: the per-event apply statements"
            else:
                done, elapsed = sqlite_loop(
                    anchor_url.removeprefix("sqlite:///"), args.backlog, args.seconds
                )
                base = done / elapsed
                what = "raw sqlite3 loop: the per-event apply statements"
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    ack_target, drain_target = 0.5, 1.0
    title = "P1a/P1b" if pg else "P2a/P2b"
    record(
        f"{title} batched webhooks ({args.database}): acknowledge, then drain",
        [
            f"- machine load at the end (1/5/15 min): {load}",
            f'- ack: **{ack:.0f}/s** answered "received" over HTTP at concurrency '
            f"{args.concurrency} ({args.processes} web process(es)); anchor {ack_what}: "
            f"**{ack_base:.0f}/s**; ratio **{ack / ack_base:.2f}** (target ≥ {ack_target}: "
            f"{'meets' if ack / ack_base >= ack_target else 'MISSES'})",
            f"- drain: {applied} received CAPTURED events applied in batches of {args.batch}, "
            f"one process: **{rate:.0f}/s**, {cpu:.2f} ms CPU per event; verified {verified} "
            f"paid + allocated + announced; anchor {what}: **{base:.0f}/s**; ratio "
            f"**{rate / base:.2f}** (target ≥ {drain_target}: "
            f"{'meets' if rate / base >= drain_target else 'MISSES'})",
        ],
    )
    print(json.dumps({"ack": ack, "ack_anchor": ack_base, "drain": rate, "drain_anchor": base}))
