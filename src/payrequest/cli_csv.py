"""`payrequest export ...` and `payrequest import ...`: CSV files in and out of one
organisation (docs/csv.md). Each command acts for the organisation `--org` names (or the only
one there is)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, BinaryIO, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.cli_common import Org, chosen_organisation, cli_settings
from payrequest.config import Settings
from payrequest.db.session import create_engine, read_only_factory, session_factory
from payrequest.errors import PayrequestError
from payrequest.exports.payments_csv import payments_csv
from payrequest.exports.period import Period
from payrequest.imports import run
from payrequest.imports.customers import CUSTOMERS
from payrequest.imports.invoices import INVOICES
from payrequest.imports.records import Kind
from payrequest.imports.report import Report

T = TypeVar("T")
Sessions = async_sessionmaker[AsyncSession]
export_app = typer.Typer(help="Export CSV files for the accounting.", no_args_is_help=True)
import_app = typer.Typer(
    help="Import customers and invoices from CSV files (docs/csv.md).", no_args_is_help=True
)
console = Console()
errors = Console(stderr=True)


def _refuse(exc: PayrequestError, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {exc.message}", err=True)
    return typer.Exit(code)


def _run(settings: Settings, work: Callable[[Sessions, Sessions], Awaitable[T]]) -> T:
    """`work(sessions, read_sessions)` on the database; the engine is closed afterwards."""

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            return await work(session_factory(engine), read_only_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


@export_app.command("payments")
def export_payments(
    first: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    last: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (included).")],
    org: Org = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="The file to write (default: standard output).")
    ] = None,
) -> None:
    """Payments, refunds and manual payments of a period, one row per invoice, as CSV."""
    try:
        period = Period.parse(first, last)
    except PayrequestError as exc:
        raise _refuse(exc, 2) from None
    settings = cli_settings()
    organisation = _run(settings, lambda sessions, _read: chosen_organisation(sessions, org))
    if output is None:
        _export_payments(settings, organisation.id, period, typer.get_binary_stream("stdout"))
        return
    with output.open("wb") as handle:
        _export_payments(settings, organisation.id, period, handle)
    typer.echo(f"Wrote {output}", err=True)


def _export_payments(
    settings: Settings, organisation_id: int, period: Period, out: BinaryIO
) -> None:
    async def work(_sessions: Sessions, read_sessions: Sessions) -> None:
        async for chunk in payments_csv(
            read_sessions, organisation_id=organisation_id, period=period
        ):
            out.write(chunk)

    _run(settings, work)


File = Annotated[
    Path,
    typer.Argument(exists=True, dir_okay=False, readable=True, help="The CSV file (docs/csv.md)."),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Check every row and report; write nothing.")
]


@import_app.command("customers")
def import_customers(file: File, dry_run: DryRun = False, org: Org = None) -> None:
    """Customers, one per row, created or updated by their external_id."""
    _import(CUSTOMERS, file, dry_run=dry_run, org=org)


@import_app.command("invoices")
def import_invoices(file: File, dry_run: DryRun = False, org: Org = None) -> None:
    """Invoices, one row per line, created or updated by their external_id."""
    _import(INVOICES, file, dry_run=dry_run, org=org)


def _import(kind: Kind, file: Path, *, dry_run: bool, org: str | None) -> None:
    """Exit code 0 when every row was imported (or would be), 1 when a row or the file was
    refused, 2 for a usage error."""
    settings = cli_settings()
    with (
        file.open("rb") as source,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rows]} rows"),
            TimeRemainingColumn(),
            console=errors,
        ) as progress,
    ):
        task = progress.add_task(file.name, total=file.stat().st_size or None, rows=0)

        async def advance(done: run.Progress) -> None:
            progress.update(task, completed=done.bytes_read, rows=done.rows)

        async def work(sessions: Sessions, _read_sessions: Sessions) -> Report:
            organisation = await chosen_organisation(sessions, org)
            return await run.run_import(
                sessions,
                kind=kind,
                source=source,
                organisation_id=organisation.id,
                dry_run=dry_run,
                on_progress=advance,
            )

        report = _run(settings, work)
    _print_report(kind, report)
    if not report.ok:
        raise typer.Exit(1)


def _print_report(kind: Kind, report: Report) -> None:
    would = "would be " if report.dry_run else ""
    if report.dry_run:
        console.print("Dry run: nothing was written.")
    console.print(
        f"{kind.name}: {report.created} {would}created, {report.updated} {would}updated, "
        f"{report.unchanged} unchanged; {report.rows} rows read, {report.failed_rows} refused",
        soft_wrap=True,
    )
    if report.ignored_columns:
        console.print(
            f"Columns not imported: {', '.join(report.ignored_columns)}",
            soft_wrap=True,
            markup=False,
        )
    for problem in report.errors:
        where = f"row {problem.row}" + (f", {problem.column}" if problem.column else "")
        errors.print(f"{where}: {problem.error.message}", soft_wrap=True, markup=False)
    if report.more_errors:
        errors.print(f"... and {report.more_errors} more refused")
    if report.file_error is not None:
        errors.print(f"error: {report.file_error.message}", soft_wrap=True, markup=False)
        if report.rows:
            errors.print(f"(the {report.rows} rows before it were {would}imported as above)")
