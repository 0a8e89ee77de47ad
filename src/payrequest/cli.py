"""The `payrequest` command."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvicorn
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import payrequest.tables  # noqa: F401  (every model mapped: foreign keys between packages resolve)
from payrequest import __version__
from payrequest.app import (
    RUN_WORKER_ENV,
    create_app,
    emulator_card_connection,
    emulator_connection,
)
from payrequest.cli_api_keys import api_keys_app
from payrequest.cli_csv import export_app, import_app
from payrequest.cli_orgs import orgs_app
from payrequest.cli_staff import staff_app
from payrequest.cli_stripe import stripe_app
from payrequest.cli_vipps import vipps_app
from payrequest.commands import bulk as bulk_commands
from payrequest.config import (
    ConfigurationError,
    ProviderMode,
    Settings,
    load_settings,
    secret_key,
)
from payrequest.db.backup import BackupRefused, sqlite_backup
from payrequest.db.migrate import (
    check_database,
    missing_folder,
    readiness,
    shown_url,
    unreachable_reason,
    upgrade,
)
from payrequest.db.pg_notify import JOBS_CHANNEL, PgListener, is_postgresql, listener_for
from payrequest.db.scope import ALL, acting_for, scoped_to
from payrequest.db.session import create_engine, session_factory
from payrequest.demo.setup import DEMO_BUSINESS, prepare_demo
from payrequest.errors import Conflict, PayrequestError
from payrequest.imports import jobs as import_jobs
from payrequest.imports.uploads import Uploads
from payrequest.jobs.process import run_while_database_allows
from payrequest.jobs.runner import Worker
from payrequest.kit.crypto import SecretBox
from payrequest.kit.money import Money
from payrequest.observability import logs as observability_logs
from payrequest.observability.settings import ObservabilitySettings, load_observability
from payrequest.organisations import service as organisations
from payrequest.organisations.models import ROLES, Organisation
from payrequest.payment_requests import bulk
from payrequest.runtime import Runtime, build_runtime
from payrequest.sandbox.cli import sandbox_command
from payrequest.sandbox.config import DK_TEST_UNIT
from payrequest.users import service as users
from payrequest.web.emulator_access import phone_url
from payrequest.web.health import health_app

T = TypeVar("T")
# The Stripe emulator account of the demo's Danish business (a test key; no money).
DEMO_DK_CARD_KEY = "sk_test_demo_dk_cards"

app = typer.Typer(
    help="payrequest: send MobilePay payment requests for invoices and get paid.",
    no_args_is_help=True,
    add_completion=False,
)
users_app = typer.Typer(help="Manage staff accounts.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(orgs_app, name="orgs")
app.add_typer(vipps_app, name="vipps")
app.add_typer(stripe_app, name="stripe")
app.add_typer(staff_app, name="staff")
app.add_typer(api_keys_app, name="api-keys")
app.add_typer(export_app, name="export")
app.add_typer(import_app, name="import")
requests_app = typer.Typer(help="Payment requests in bulk.", no_args_is_help=True)
app.add_typer(requests_app, name="requests")
console = Console()
log = logging.getLogger(__name__)
Org = Annotated[
    str | None,
    typer.Option(
        "--org", help="The organisation's short name (may be left out while there is only one)."
    ),
]


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigurationError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


def _served_settings(host: str, port: int, **overrides: Any) -> Settings:
    """Without an explicit PAYREQUEST_PUBLIC_URL, the public URL is where we listen."""
    settings = _settings(**overrides)
    if "public_url" not in settings.model_fields_set and not os.environ.get(
        "PAYREQUEST_PUBLIC_URL"
    ):
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        settings = _settings(public_url=f"http://{shown}:{port}", **overrides)
    return settings


def _observability() -> ObservabilitySettings:
    try:
        return load_observability()
    except ConfigurationError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


def _ready_or_exit(database_url: str) -> None:
    """Stop with one line naming the fix when the database is unreachable or not migrated."""
    state = asyncio.run(check_database(database_url))
    if not state.ready:
        typer.echo(f"error: {state.reason}", err=True)
        raise typer.Exit(1)


def _migrate_or_exit(database_url: str, *, create_folder: bool) -> None:
    """Apply the migrations, or stop with one line: a SQLite folder that does not exist (made
    only when `create_folder`: the demo's own var/), an unreachable database, a failed
    migration (its traceback is logged at DEBUG)."""
    folder = missing_folder(database_url)
    if folder is not None and create_folder:
        folder.mkdir(parents=True)
    elif folder is not None:
        typer.echo(
            f"error: cannot create the database at {shown_url(database_url)}: the folder "
            f"{folder} does not exist (create it, or correct PAYREQUEST_DATABASE_URL)",
            err=True,
        )
        raise typer.Exit(1)
    state = asyncio.run(check_database(database_url))
    if state.problem in ("unreachable", "newer"):
        typer.echo(f"error: {state.reason}", err=True)
        raise typer.Exit(1)
    try:
        upgrade(database_url)
    except Exception as exc:
        log.debug("migration failed", exc_info=True)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, OSError | ConnectionError):
            reason = unreachable_reason(database_url, exc)
        typer.echo(
            f"error: migrating {shown_url(database_url)} failed: {reason} "
            "(PAYREQUEST_LOG_LEVEL=DEBUG shows the traceback)",
            err=True,
        )
        raise typer.Exit(1) from None


def _with_sessions(
    settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    """`work` with sessions on the database (each says whom it acts for)."""

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _in_transaction(
    settings: Settings, work: Callable[[AsyncSession], Awaitable[T]], *, organisation_id: int
) -> T:
    """`work` in one transaction acting for the organisation."""

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            async with (
                session_factory(engine, scope=organisation_id)() as session,
                session.begin(),
            ):
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


async def _chosen(sessions: async_sessionmaker[AsyncSession], slug: str | None) -> Organisation:
    """The organisation `--org` names (or the only one): exit code 2 with the short names there
    are when it names none, or is left out among several."""
    async with sessions(info=scoped_to(ALL)) as session:
        try:
            return await organisations.chosen(session, slug)
        except PayrequestError as exc:
            typer.echo(f"error: {exc.message} (--org SLUG)", err=True)
            raise typer.Exit(2) from None


def _organisation(settings: Settings, slug: str | None) -> Organisation:
    """`_chosen` for commands without a runtime of their own."""
    return _with_sessions(settings, lambda sessions: _chosen(sessions, slug))


def _version(value: bool) -> None:
    if value:
        console.print(f"payrequest {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Settings come from PAYREQUEST_* environment variables or a .env file."""
    observability_logs.configure(_observability())


@app.command()
def migrate() -> None:
    """Apply database migrations (safe to run again)."""
    settings = _settings()
    _migrate_or_exit(settings.database_url, create_folder=False)
    console.print(f"Database is up to date: {shown_url(settings.database_url)}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    worker: Annotated[
        bool, typer.Option(help="Also run the job worker and poller in this process.")
    ] = True,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Web processes to start (PostgreSQL only).")
    ] = 1,
) -> None:
    """Run the web app (apply migrations first: `payrequest migrate`)."""
    settings = _served_settings(host, port)
    if workers > 1 and not is_postgresql(settings.database_url):
        typer.echo(
            "error: --workers above 1 needs PostgreSQL (PAYREQUEST_DATABASE_URL); "
            "SQLite is served by one process",
            err=True,
        )
        raise typer.Exit(2)
    _ready_or_exit(settings.database_url)
    # Each process builds its app from the environment (uvicorn imports the factory there).
    os.environ["PAYREQUEST_PUBLIC_URL"] = settings.public_url
    os.environ[RUN_WORKER_ENV] = "1" if worker else "0"
    if settings.provider_mode is ProviderMode.sandbox:
        phone = phone_url(settings.public_url, secret_key(settings))
        console.print(f"Phone emulator: {phone}", soft_wrap=True)
    uvicorn.run(
        "payrequest.app:app_factory",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_config=observability_logs.dict_config(_observability()),
    )


@app.command("worker")
def worker_command() -> None:
    """Run a job worker (captures, sends, polling) without the web app.

    While the database is down or not migrated it waits (one log line per try, 1 s, 2 s, 4 s
    ... at most a minute apart). PAYREQUEST_WORKER_HEALTH_PORT serves /healthz, /readyz and
    /metrics."""
    settings = _settings()
    observing = _observability()

    async def run() -> None:
        runtime = build_runtime(settings)
        import_jobs.install(
            runtime.handlers, sessions=runtime.sessions, uploads=Uploads.under(settings.var_dir)
        )
        # PostgreSQL: woken by NOTIFY at commit, once the database is there (until then the
        # listener would log its own retries beside ours).
        listener = listener_for(settings.database_url)
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(runtime.close)
            if observing.worker_health_port:
                await stack.enter_async_context(_health_server(runtime, observing))

            async def probe() -> str | None:
                state = await readiness(runtime.engine, url=settings.database_url)
                return None if state.ready else state.reason

            async def make_worker() -> Worker:
                if listener is None:
                    return runtime.worker()
                if listener not in listening:
                    listening.append(await stack.enter_async_context(listener))
                return runtime.worker(wakeups=listener.wakeups(JOBS_CHANNEL))

            listening: list[PgListener] = []

            await run_while_database_allows(make_worker, probe)

    console.print("Job worker running; stop with Ctrl+C.")
    asyncio.run(run())


class _HealthServer(uvicorn.Server):
    """uvicorn without its signal handlers: the worker's own handle SIGINT and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def _health_server(runtime: Runtime, observing: ObservabilitySettings) -> AsyncIterator[None]:
    config = uvicorn.Config(
        health_app(runtime, observing),
        host=observing.worker_health_host,
        port=observing.worker_health_port or 0,
        log_config=None,  # logging is configured already
        access_log=False,
        lifespan="off",
    )
    server = _HealthServer(config)
    task = asyncio.create_task(server.serve(), name="worker-health")
    try:
        yield
    finally:
        server.should_exit = True
        await task


@app.command()
def backup(
    to: Annotated[Path, typer.Option("--to", help="The file to write (must not exist yet).")],
) -> None:
    """Copy the SQLite database while payrequest runs (VACUUM INTO); PostgreSQL: use pg_dump."""
    settings = _settings()
    try:
        copied = sqlite_backup(settings.database_url, to)
    except BackupRefused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    console.print(
        f"Backed up {shown_url(settings.database_url)} to {copied.path}: integrity ok, "
        f"{copied.customers} customers, {copied.invoices} invoices, "
        f"{copied.payment_requests} payment requests",
        soft_wrap=True,
    )


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Migrate, seed demo data, create a staff user and serve the app with the emulator (the
    data and the user are the first organisation's)."""
    settings = _served_settings(host, port, provider_mode="sandbox")
    if "PAYREQUEST_VIPPS__LONG_LIVING_APPROVED" not in os.environ:
        # The emulated sales unit is approved for long-living requests (Norway: 24 h).
        settings.vipps.long_living_approved = True
    if not settings.business.name:
        settings.business = DEMO_BUSINESS
    _migrate_or_exit(settings.database_url, create_folder=True)
    # The demo's Danish business pays through the emulator's Danish test unit, and takes
    # cards through a Stripe emulator account of its own.
    danish = (emulator_connection(DK_TEST_UNIT), emulator_card_connection(DEMO_DK_CARD_KEY))
    box = SecretBox(secret_key(settings))
    ready = _with_sessions(
        settings,
        lambda sessions: prepare_demo(sessions, settings, danish_accounts=danish, box=box),
    )
    base = f"http://{host}:{port}"  # where we listen (the public URL may differ)
    if ready.seed.created:
        console.print(
            f"Seeded {ready.seed.customers} customers and {ready.seed.invoices} invoices "
            f"({ready.seed.paid_invoices} already paid)."
        )
    else:
        console.print("Demo data already present; nothing seeded.")
    console.print(f"\n  Staff sign-in:  {base}/login")
    console.print(f"  Email:          {ready.admin_email}")
    if ready.generated_password:
        console.print(f"  Password:       {ready.generated_password}   (shown only this once)")
    elif ready.admin_created:
        console.print("  Password:       from PAYREQUEST_ADMIN_PASSWORD")
    else:
        console.print(
            "  Password:       as printed at the first run "
            "(or set a new one: payrequest users create ...)"
        )
    console.print(
        f"  Phone emulator: {phone_url(base, secret_key(settings))}   (approve requests here;"
        " the key opens it without signing in)",
        soft_wrap=True,
    )
    console.print(f"  Health:         {base}/healthz")
    console.print(f"  API docs:       {base}/api/v1/docs\n")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_config=observability_logs.dict_config(_observability()),
    )


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Sign-in email.")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")] = "staff",
    org: Org = None,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    locale: Annotated[str, typer.Option(help="Language: nb, da or en.")] = "nb",
    password: Annotated[
        str | None,
        typer.Option(help="Password (at least 10 characters); asked for when left out."),
    ] = None,
) -> None:
    """Create a staff account with a role in the organisation; someone who has an account
    already is given the role there (their password stays as it is)."""
    settings = _settings()
    organisation = _organisation(settings, org)
    existing = _in_transaction(
        settings, lambda s: users.get_by_email(s, email), organisation_id=organisation.id
    )
    secret = "" if existing is not None else (password or getpass.getpass("Password: "))

    async def work(session: AsyncSession) -> bool:
        """True when a new account was made, False when an existing one was given the role."""
        person = await users.get_by_email(session, email)
        if person is None:
            await users.create_user(
                session,
                email=email,
                password=secret,
                name=name,
                role=role,
                locale=locale,
                organisation_id=organisation.id,
            )
            return True
        if await organisations.membership(
            session, user_id=person.id, organisation_id=organisation.id
        ):
            raise Conflict(
                "%(email)s is already a member of %(organisation)s",
                field="email",
                email=person.email,
                organisation=organisation.slug,
            )
        await organisations.add_member(
            session, user_id=person.id, organisation_id=organisation.id, role=role
        )
        return False

    try:
        created = _in_transaction(settings, work, organisation_id=organisation.id)
    except PayrequestError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    shown = email.strip().lower()
    if created:
        console.print(f"Created {role} {shown} in {organisation.slug}")
    else:
        console.print(
            f"Added {shown} to {organisation.slug} as {role} (their account existed: "
            "password unchanged)"
        )


@requests_app.command("send-bulk")
def requests_send_bulk(
    overdue_only: Annotated[bool, typer.Option(help="Only invoices past their due date.")] = False,
    min_amount: Annotated[
        Decimal, typer.Option(help="Skip customers whose eligible total is below (e.g. 100.50).")
    ] = Decimal(0),
    currency: Annotated[
        str | None, typer.Option(help="Invoice currency (default: the sales unit's).")
    ] = None,
    customer_number: Annotated[
        list[str] | None, typer.Option(help="Only these customers (repeatable).")
    ] = None,
    batch: Annotated[
        str | None, typer.Option(help="Batch id (default: derived from the filter and today).")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Sends at once.")] = 8,
    dry_run: Annotated[bool, typer.Option(help="Print what would be sent; send nothing.")] = False,
    org: Org = None,
    stop_after: Annotated[int | None, typer.Option(hidden=True)] = None,  # crash drills
) -> None:
    """One request per customer of the organisation with open invoices matching the filter;
    run again to resume."""
    settings = _settings()

    async def run() -> bulk.Summary | None:
        runtime = build_runtime(settings)
        try:
            organisation = await _chosen(runtime.sessions, org)
            with acting_for(organisation.id):
                return await _send_bulk(runtime)
        finally:
            await runtime.close()

    async def _send_bulk(runtime: Runtime) -> bulk.Summary | None:
        chosen = bulk_commands.Batch(
            currency=currency,
            overdue_only=overdue_only,
            min_amount=min_amount,
            customer_numbers=tuple(customer_number or ()),
            batch_id=batch,
        )
        if dry_run:
            _print_plan(await bulk_commands.plan(runtime, chosen))
            return None
        with Progress(
            *Progress.get_default_columns(), MofNCompleteColumn(), console=console
        ) as progress:
            task = progress.add_task("batch", total=None)
            return await bulk_commands.send(
                runtime,
                chosen,
                concurrency=concurrency,
                on_planned=lambda p: progress.update(
                    task, total=len(p.items), description=f"batch {p.batch_id}"
                ),
                on_done=lambda _item, _outcome: progress.advance(task),
                stop_after=stop_after,
            )

    try:
        summary = asyncio.run(run())
    except PayrequestError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    except bulk.BulkInterrupted as exc:
        typer.echo(f"interrupted: {exc}; run the same command again to resume", err=True)
        raise typer.Exit(3) from None
    if summary is not None:
        console.print(
            f"Batch {summary.batch_id}: {summary.sent} sent, {summary.failed} refused, "
            f"{summary.skipped} skipped, {summary.retry_later} to retry, "
            f"{summary.already_done} done before"
        )
        for problem in summary.problems[:20]:
            console.print(f"  {problem}")


def _print_plan(plan: bulk.Plan) -> None:
    table = Table(title=f"Batch {plan.batch_id} (dry run: nothing sent)")
    for column in ("reference", "customer", "invoices", "amount", "flow"):
        table.add_column(column)
    for item in plan.items:
        table.add_row(
            item.reference,
            f"{item.customer_number} {item.customer_name}",
            "(exists, send again)" if item.resend else str(len(item.invoice_ids)),
            str(Money(item.amount, item.currency)),
            "push" if item.phone else "qr",
        )
    console.print(table)
    console.print(f"{len(plan.items)} to send, {plan.already_done} done before")


app.command("sandbox")(sandbox_command)


def main() -> None:
    app()
