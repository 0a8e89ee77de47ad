"""P10 big tables and P9b a customer's long history: server time of the staff pages at
millions of rows, with an EXPLAIN check of every query they send (PostgreSQL).

`python -m bench bigdata` seeds a throw-away database with COPY (bench.bigdata_seed) — by
default a small smoke size; `--full` the issue's sizes: 1,000 organisations, 1,000,000
payment requests, 5,000,000 timeline rows, 2,000,000 invoices, and one customer with 20,000
invoices — then serves, in-process (httpx's ASGI transport, as bench/card.py), as a staff
member of organisation 1: the customer card (an ordinary customer and the heavy one), the
requests list under every status filter on its first and last page, the invoices list under
every filter on its first and last page, a search and one customer's invoices, and the
operations page. Each page is served once with its SQL captured and EXPLAINed
(bench.bigdata_plans); a Seq Scan on a big table fails the run (exit status 1). Target: p95
≤ 100 ms per page.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text

from bench.bigdata_plans import Verdict, capture, explain
from bench.bigdata_seed import Seeded, Sizes, seed
from bench.report import percentile, record
from bench.support import scratch_database
from payrequest.app import create_app
from payrequest.config import load_settings
from payrequest.db.scope import acting_for
from payrequest.ledger.repository import INVOICE_FILTERS
from payrequest.payment_requests.state import Status
from payrequest.users import service as users

PASSWORD = "benchmark password"  # noqa: S105 - a throw-away benchmark account
EMAIL = "bigdata@example.no"
ORGANISATION = 1
PAGE_SIZE = 50  # the requests and invoices lists'
TARGET_MS = 100.0
SMALL = Sizes(
    organisations=20, customers_per_org=20, requests=20_000, events=100_000, invoices=40_000,
    heavy=2_000,
)  # fmt: skip
FULL = Sizes(
    organisations=1_000, customers_per_org=50, requests=1_000_000, events=5_000_000,
    invoices=2_000_000, heavy=20_000,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Page:
    name: str
    path: str


@dataclass(frozen=True, slots=True)
class Result:
    page: Page
    timings: list[float]
    verdict: Verdict

    def line(self) -> str:
        p50, p95, p99 = (percentile(self.timings, q) for q in (50, 95, 99))
        meets = "meets" if p95 <= TARGET_MS else "MISSES"
        plan = "index only" if self.verdict.ok else "SEQ SCAN: " + "; ".join(self.verdict.seq_scans)
        return (
            f"| {self.page.name} | `{self.page.path}` | {p50:.1f} | {p95:.1f} | {p99:.1f} | "
            f"{meets} | {self.verdict.statements} | {plan} |"
        )


def _last_page(count: int) -> int:
    return max(1, math.ceil(count / PAGE_SIZE))


async def _pages(sessions: object, sizes: Sizes) -> list[Page]:
    """The pages to time; the last page of each filter from organisation 1's counts."""
    async with sessions() as session:  # type: ignore[operator]
        statuses = dict(
            (
                await session.execute(
                    text(
                        "SELECT status, count(*) FROM payment_requests "
                        "WHERE organisation_id = :o GROUP BY status"
                    ),
                    {"o": ORGANISATION},
                )
            ).all()
        )
        invoices = int(
            (
                await session.execute(
                    text("SELECT count(*) FROM invoices WHERE organisation_id = :o"),
                    {"o": ORGANISATION},
                )
            ).scalar_one()
        )
    ordinary = sizes.customer_of(1)
    pages = [
        Page("card, ordinary customer", f"/customers/{ordinary}"),
        Page(f"card, {sizes.heavy} invoices (P9b)", f"/customers/{sizes.heavy_customer}"),
        Page("requests, all, page 1", "/requests"),
        Page("requests, all, last page", f"/requests?page={_last_page(sum(statuses.values()))}"),
    ]
    for status in (s.value for s in Status):
        last = _last_page(int(statuses.get(status, 0)))
        pages.append(Page(f"requests, {status}, page 1", f"/requests?status_filter={status}"))
        pages.append(
            Page(f"requests, {status}, last page", f"/requests?status_filter={status}&page={last}")
        )
    for name in INVOICE_FILTERS:
        pages.append(Page(f"invoices, {name}, page 1", f"/invoices?status={name}"))
    # Every filter's last page is at most the whole list's: deep OFFSET, the worst case.
    deepest = _last_page(invoices)
    pages.append(Page("invoices, all, last page", f"/invoices?status=all&page={deepest}"))
    pages.append(Page("invoices, paid, deep page", f"/invoices?status=paid&page={deepest // 3}"))
    pages.append(Page("invoices, search", "/invoices?q=kunde+1"))
    pages.append(
        Page("invoices, heavy customer's", f"/invoices?customer_id={sizes.heavy_customer}")
    )
    pages.append(Page("operations", "/operations"))
    return pages


async def _measure(url: str, sizes: Sizes, requests: int, tmp: Path) -> list[Result]:
    settings = load_settings(database_url=url, var_dir=tmp, public_url="http://bench")
    app = create_app(settings, run_worker=False)
    runtime = app.state.runtime
    with acting_for(ORGANISATION):
        async with runtime.sessions() as session, session.begin():
            await users.create_user(
                session, email=EMAIL, password=PASSWORD, role="owner", organisation_id=ORGANISATION
            )
    pages = await _pages(runtime.read_sessions, sizes)
    gc.collect()
    gc.freeze()  # what the app's lifespan does once start-up is done
    results: list[Result] = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        login = await http.get("/login")
        token = login.text.split('name="csrf" value="')[1].split('"')[0]
        await http.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf": token})
        for page in pages:
            with capture(runtime.read_engine) as captured:
                response = await http.get(page.path)
            if response.status_code != 200:
                raise SystemExit(f"{page.path}: HTTP {response.status_code}")
            verdict = await explain(url, captured, ORGANISATION)
            timings: list[float] = []
            for i in range(requests + 3):
                started = time.perf_counter()
                response = await http.get(page.path)
                elapsed = (time.perf_counter() - started) * 1000
                if i >= 3:  # warm-up
                    timings.append(elapsed)
            result = Result(page, timings, verdict)
            print(result.line(), flush=True)
            results.append(result)
    await runtime.close()
    return results


def _sizes(args: argparse.Namespace) -> Sizes:
    base = FULL if args.full else SMALL
    return Sizes(
        organisations=args.organisations or base.organisations,
        customers_per_org=args.customers_per_org or base.customers_per_org,
        requests=args.requests or base.requests,
        events=args.events or base.events,
        invoices=args.invoices or base.invoices,
        heavy=args.heavy or base.heavy,
    )


def _report(sizes: Sizes, seeded: Seeded, results: list[Result], requests: int) -> None:
    rows = ", ".join(f"{table} {count:,}" for table, count in seeded.rows.items())
    failed = [r for r in results if not r.verdict.ok]
    missed = [r for r in results if percentile(r.timings, 95) > TARGET_MS]
    lines = [
        f"- sizes: {sizes.organisations:,} organisations, {sizes.customers_per_org} customers "
        f"each; one customer of organisation 1 with {sizes.heavy:,} invoices",
        f"- seeded with COPY in **{seeded.seconds:.0f} s** (incl. VACUUM ANALYZE): {rows}",
        f"- {requests} requests per page after 3 warm-up, one after the other, as an owner of "
        "organisation 1; server time in-process (ASGI), ms",
        "",
        "| page | path | p50 | p95 | p99 | p95 ≤ 100 ms | queries | EXPLAIN |",
        "|---|---|---|---|---|---|---|---|",
        *(r.line() for r in results),
        "",
        f"- verdict: {len(results) - len(missed)}/{len(results)} pages meet p95 ≤ 100 ms; "
        f"{len(results) - len(failed)}/{len(results)} pages' plans read no big table whole "
        f"({'meets' if not missed and not failed else 'MISSES'})",
    ]
    record("P10 big tables + P9b long history (postgresql)", lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench bigdata")
    parser.add_argument("--full", action="store_true", help="the issue's sizes (P10, P9b)")
    for option in ("organisations", "customers-per-org", "requests", "events", "invoices"):
        parser.add_argument(f"--{option}", type=int, default=0)
    parser.add_argument("--heavy", type=int, default=0, help="invoices of the P9b customer")
    parser.add_argument("--samples", type=int, default=30, help="timed requests per page")
    parser.add_argument("--no-record", action="store_true", help="print, do not append")
    args = parser.parse_args(argv)
    sizes = _sizes(args)
    with tempfile.TemporaryDirectory() as tmp, scratch_database("postgresql", Path(tmp)) as url:
        seeded = asyncio.run(seed(url, sizes))
        print(f"seeded in {seeded.seconds:.1f} s: {seeded.rows}", flush=True)
        results = asyncio.run(_measure(url, sizes, args.samples, Path(tmp)))
    if not args.no_record:
        _report(sizes, seeded, results, args.samples)
    failed = [r for r in results if not r.verdict.ok]
    if failed:
        for r in failed:
            print(f"EXPLAIN check failed: {r.page.path}: " + "; ".join(r.verdict.seq_scans))
        raise SystemExit(1)
