"""P11: CSV import of invoices: rows/s and memory at 10 000 and 100 000 rows (flat memory).

For each database: a fresh scratch database with 1 000 customers (imported from CSV), then an
invoice file of N rows (two lines per invoice, `;`-separated, decimal commas, both date forms,
as a Norwegian ERP writes it) generated into a temporary file and imported by
`imports.run.run_import` (what `payrequest import invoices` runs, without the progress bar) in
a child process of its own, so that each size's peak RSS is its own. Anchors in the same run:
the same file read and checked without the database (`imports.preview`, the reading's own
cost), and the 10 000-row import's memory for the 100 000-row one.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import record
from bench.support import ROOT, scratch_database
from payrequest.db.session import create_engine, session_factory
from payrequest.imports.customers import CUSTOMERS
from payrequest.imports.invoices import INVOICES
from payrequest.imports.preview import preview
from payrequest.imports.run import run_import

CUSTOMER_COUNT = 1_000
ORGANISATION = 1  # the one migration 0011 makes
HEADER = (
    "external_id;number;customer_external_id;issue_date;due_date;currency;reference;"
    "description;quantity;unit_price;vat_rate\n"
)


def write_invoices(path: Path, rows: int) -> None:
    """`rows` rows, two per invoice, written as they are made."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        for n in range(rows):
            invoice = n // 2
            issue = f"{1 + invoice % 28:02d}.01.2027" if invoice % 2 else "2027-01-15"
            out.write(
                f"ERP-{invoice:07d};{200_000 + invoice};C-{invoice % CUSTOMER_COUNT:04d};{issue};"
                f"2027-02-28;NOK;{invoice:010d};{'Arbeid' if n % 2 == 0 else 'Materiell'};"
                f"{1 + n % 3},5;{100 + n % 900} {n % 1000:03d},{n % 100:02d};25\n"
            )


async def _customers(url: str) -> None:
    text = "external_id;name;email\n" + "".join(
        f"C-{n:04d};Kunde {n} AS;post{n}@kunde.example\n" for n in range(CUSTOMER_COUNT)
    )
    engine = create_engine(url)
    try:
        report = await run_import(
            session_factory(engine),
            kind=CUSTOMERS,
            source=io.BytesIO(text.encode()),
            organisation_id=ORGANISATION,
            dry_run=False,
        )
        assert report.ok and report.created == CUSTOMER_COUNT, report
    finally:
        await engine.dispose()


def _status_kib(field: str) -> int:
    """A memory figure of this process from /proc/self/status: `VmRSS` (now) or `VmHWM`
    (the peak; unlike getrusage's ru_maxrss it is not inherited from the parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


async def _import(url: str, path: Path) -> dict[str, float]:
    engine = create_engine(url)
    try:
        start_rss = _status_kib("VmRSS")
        started = time.perf_counter()
        with path.open("rb") as source:
            report = await run_import(
                session_factory(engine),
                kind=INVOICES,
                source=source,
                organisation_id=ORGANISATION,
                dry_run=False,
            )
        elapsed = time.perf_counter() - started
    finally:
        await engine.dispose()
    return {
        "rows": report.rows,
        "created": report.created,
        "unchanged": report.unchanged,
        "failed": report.failed_rows,
        "seconds": elapsed,
        "start_rss_kib": start_rss,
        "peak_rss_kib": _status_kib("VmHWM"),
    }


def child(argv: list[str]) -> None:
    """`--child URL FILE`: import FILE into URL, print the measurement as JSON."""
    url, path = argv
    print(json.dumps(asyncio.run(_import(url, Path(path)))))


def _measured(url: str, path: Path) -> dict[str, float]:
    done = subprocess.run(  # noqa: S603 - this interpreter running this benchmark
        [sys.executable, "-m", "bench", "imports", "--child", url, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _parse_only(path: Path) -> tuple[int, float]:
    started = time.perf_counter()
    with path.open("rb") as source:
        looked = preview(INVOICES, source)
    assert looked.report.ok, looked.report.errors[:3]
    return looked.report.rows, time.perf_counter() - started


def _one_database(kind: str, sizes: list[int], tmp: Path) -> list[str]:
    lines: list[str] = []
    measured: dict[int, dict[str, float]] = {}
    for rows in sizes:
        folder = tmp / str(rows)
        folder.mkdir()
        path = folder / "invoices.csv"
        write_invoices(path, rows)
        with scratch_database(kind, folder) as url:
            asyncio.run(_customers(url))
            measured[rows] = result = _measured(url, path)
            again = _measured(url, path) if rows == sizes[0] else None
        read, seconds = _parse_only(path)
        growth = result["peak_rss_kib"] - result["start_rss_kib"]
        lines.append(
            f"- {rows:,} rows ({path.stat().st_size / 2**20:.1f} MiB, {result['created']:,.0f} "
            f"invoices created, {result['failed']:.0f} refused) in {result['seconds']:.1f} s = "
            f"**{result['rows'] / result['seconds']:.0f} rows/s**; peak RSS "
            f"{result['peak_rss_kib'] / 1024:.1f} MiB, {growth / 1024:.1f} MiB above the RSS at "
            f"the start of the import"
        )
        lines.append(
            f"  - anchor, the same file read and checked without the database "
            f"(`imports.preview`): {read / seconds:,.0f} rows/s"
        )
        if again is not None:
            lines.append(
                f"  - the same file again: {again['unchanged']:,.0f} invoices unchanged, "
                f"{again['created']:.0f} created, in {again['seconds']:.1f} s = "
                f"{again['rows'] / again['seconds']:.0f} rows/s"
            )
    small, large = sizes[0], sizes[-1]
    if small != large:
        grown = [measured[n]["peak_rss_kib"] - measured[n]["start_rss_kib"] for n in sizes]
        lines.append(
            f"- memory: {large // small}× the rows, peak RSS "
            f"{measured[large]['peak_rss_kib'] / measured[small]['peak_rss_kib']:.2f}× "
            f"(growth over the start {grown[-1] / 1024:.1f} vs {grown[0] / 1024:.1f} MiB): "
            + (
                "flat"
                if measured[large]["peak_rss_kib"] < 1.25 * measured[small]["peak_rss_kib"]
                else "NOT flat"
            )
        )
    return lines


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        child(argv[1:])
        return
    parser = argparse.ArgumentParser(prog="python -m bench imports")
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--database", choices=("sqlite", "postgresql"), nargs="+", default=["sqlite", "postgresql"]
    )
    args = parser.parse_args(argv)
    for kind in args.database:
        with tempfile.TemporaryDirectory() as name:
            lines = _one_database(kind, sorted(args.rows), Path(name))
        load = Path("/proc/loadavg").read_text().split()[:3]
        record(
            f"P11 CSV import of invoices ({kind})",
            [
                f"- machine load at the end (1/5/15 min): {' '.join(load)}",
                f"- {CUSTOMER_COUNT} customers imported first; invoices two lines each, "
                "`;`-separated, decimal commas; batches of 500 rows, one transaction each",
                *lines,
            ],
        )
