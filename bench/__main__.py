"""`python -m bench <name> [options]`."""

from __future__ import annotations

import sys

from bench import apply, bigdata, bulk, card, drivers, imports, inbox, jobs, pickup, sse, webhooks

BENCHMARKS = {"card": card.main, "webhooks": webhooks.main, "bulk": bulk.main}
BENCHMARKS.update({"drivers": drivers.main, "pickup": pickup.main})  # scale-out
BENCHMARKS.update({"jobs": jobs.main, "sse": sse.main})  # P4-P6
BENCHMARKS.update({"apply": apply.main})  # P1/P2: the Python side alone
BENCHMARKS.update({"imports": imports.main})  # P11: CSV import, rows/s and memory
BENCHMARKS.update({"inbox": inbox.main})  # P1a/P1b, P2a/P2b: batched webhooks
BENCHMARKS.update({"bigdata": bigdata.main})  # P10/P9b: pages at millions of rows


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in BENCHMARKS:
        print("usage: python -m bench {" + ",".join(BENCHMARKS) + "} [options]")
        raise SystemExit(2)
    BENCHMARKS[sys.argv[1]](sys.argv[2:])


main()
