"""The `payrequest` command."""

from __future__ import annotations

import asyncio
import getpass
import os
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
import uvicorn
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest import __version__
from payrequest.app import create_app
from payrequest.cli_vipps import vipps_app
from payrequest.config import ConfigurationError, Settings, load_settings
from payrequest.db.migrate import upgrade
from payrequest.db.session import create_engine, session_factory
from payrequest.demo.setup import prepare_demo
from payrequest.errors import PayrequestError
from payrequest.jobs.process import run_until_signalled
from payrequest.runtime import build_runtime
from payrequest.sandbox.cli import sandbox_command
from payrequest.users import service as users
from payrequest.users.models import ROLES

T = TypeVar("T")

app = typer.Typer(
    help="payrequest: send MobilePay payment requests for invoices and get paid.",
    no_args_is_help=True,
    add_completion=False,
)
users_app = typer.Typer(help="Manage staff accounts.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(vipps_app, name="vipps")
console = Console()


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


def _in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


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


@app.command()
def migrate() -> None:
    """Apply database migrations (safe to run again)."""
    settings = _settings()
    upgrade(settings.database_url)
    console.print(f"Database is up to date: {settings.database_url}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    worker: Annotated[
        bool, typer.Option(help="Also run the job worker and poller in this process.")
    ] = True,
) -> None:
    """Run the web app (apply migrations first: `payrequest migrate`)."""
    settings = _served_settings(host, port)
    uvicorn.run(create_app(settings, run_worker=worker), host=host, port=port, log_level="info")


@app.command("worker")
def worker_command() -> None:
    """Run a job worker (captures, sends, polling) without the web app."""
    settings = _settings()

    async def run() -> None:
        runtime = build_runtime(settings)
        try:
            await run_until_signalled(runtime.worker())
        finally:
            await runtime.close()

    console.print("Job worker running; stop with Ctrl+C.")
    asyncio.run(run())


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Migrate, seed demo data, create a staff user and serve the app with the emulator."""
    settings = _served_settings(host, port, provider_mode="sandbox")
    if "PAYREQUEST_VIPPS__LONG_LIVING_APPROVED" not in os.environ:
        # The emulated sales unit is approved for long-living requests (Norway: 24 h).
        settings.vipps.long_living_approved = True
    upgrade(settings.database_url)
    ready = _in_transaction(settings, lambda s: prepare_demo(s, settings))
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
    console.print(f"  Phone emulator: {base}/sandbox/vipps/phone   (approve requests here)")
    console.print(f"  Health:         {base}/healthz")
    console.print(f"  API docs:       {base}/docs\n")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Sign-in email.")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")] = "staff",
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    locale: Annotated[str, typer.Option(help="Language: nb, da or en.")] = "nb",
    password: Annotated[
        str | None,
        typer.Option(help="Password (at least 10 characters); asked for when left out."),
    ] = None,
) -> None:
    """Create a staff account."""
    settings = _settings()
    secret = password or getpass.getpass("Password: ")
    try:
        user = _in_transaction(
            settings,
            lambda s: users.create_user(
                s, email=email, password=secret, name=name, role=role, locale=locale
            ),
        )
    except PayrequestError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    console.print(f"Created {user.role} {user.email}")


app.command("sandbox")(sandbox_command)


def main() -> None:
    app()
