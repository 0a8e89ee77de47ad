"""CPU per webhook apply, in-process: what P1/P2 pay in Python for each event.

`inbound.service.receive` (store + apply, as the webhook handler calls it) for `--events`
CAPTURED events on `pending` requests of a fresh scratch database, one transaction each, one
after the other on uvloop; prints the wall and CPU (process) time per apply and the number of
SQL statements one apply issues. No HTTP: the difference to `bench webhooks` is the web stack.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import uvloop
from sqlalchemy import event

from bench.report import record
from bench.support import scratch_database, seed_sql
from bench.webhooks import apply_captured
from payrequest.db.session import create_engine, session_factory

WARM_UP = 50


async def _run(url: str, events: int) -> tuple[float, float, float]:
    """(wall ms, CPU ms, statements) per apply."""
    references = await seed_sql(url, events + WARM_UP)
    engine = create_engine(url)
    sessions = session_factory(engine)
    statements: list[str] = []
    event.listen(
        engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(str(a[2]))
    )

    try:
        for n in range(events, events + WARM_UP):
            await apply_captured(sessions, references[n], n)
        per_apply = len(statements) / WARM_UP
        wall, cpu = time.perf_counter(), time.process_time()
        for n in range(events):
            await apply_captured(sessions, references[n], n)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await engine.dispose()
    return 1000 * wall / events, 1000 * cpu / events, per_apply


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench apply")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as name, scratch_database(args.database, Path(name)) as url:
        wall, cpu, statements = uvloop.run(_run(url, args.events))
    record(
        f"Webhook apply in-process, CPU per event ({args.database})",
        [
            f"- {args.events} CAPTURED events applied one after the other after {WARM_UP} "
            f"warm-up, each in its own transaction, no HTTP: **{cpu:.2f} ms CPU** and "
            f"{wall:.2f} ms wall per apply; {statements:.0f} SQL statements per apply "
            "(BEGIN/COMMIT included where the driver sends them as statements)",
        ],
    )
