"""`payrequest vipps ...`: webhook registration, and a check of the credentials, the webhook
registrations, the sales unit's situation and a webhook round trip (providers/vipps/checkup.py
says what is looked at and how).

They check the installation's own connection (the credentials of the environment): its sales
unit, its webhook and the round trip's throw-away payment are the installation's, not one
organisation's. So these commands take no `--org` and act for every organisation
(db.scope.ALL); the round trip's events belong to no organisation in the inbox."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from payrequest.config import ConfigurationError, ProviderMode, Settings, load_settings
from payrequest.db.scope import ALL, acting_for
from payrequest.inbound import check as webhook_check
from payrequest.inbound import setup
from payrequest.inbound.setup import WebhookStatus, ensure_webhook
from payrequest.providers import checks
from payrequest.providers.base import ProviderError
from payrequest.runtime import Runtime, build_runtime

vipps_app = typer.Typer(help="Vipps MobilePay setup: webhooks and checks.", no_args_is_help=True)
console = Console()
ENGLISH = "en"  # the CLI speaks English


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


async def _register(runtime: Runtime) -> WebhookStatus:
    return await ensure_webhook(
        runtime.sessions, runtime.directory.installation, url=runtime.webhook_url, box=runtime.box
    )


@vipps_app.command("register-webhook")
def register_webhook() -> None:
    """Register one webhook for this sales unit and PAYREQUEST_PUBLIC_URL; remove stale ones."""
    runtime = build_runtime(_settings())

    async def run() -> WebhookStatus:
        try:
            with acting_for(ALL):
                return await _register(runtime)
        finally:
            await runtime.close()

    try:
        status = asyncio.run(run())
    except ProviderError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    verb = "Registered" if status.created else "Already registered"
    console.print(f"{verb}: {status.url} (id {status.endpoint_id}); secret stored encrypted.")
    if status.removed:
        console.print(f"Removed stale registrations: {', '.join(status.removed)}")


@vipps_app.command("check")
def check(
    round_trip: Annotated[
        bool,
        typer.Option(
            help="Create and cancel a QR payment and wait for its webhooks "
            "(needs the server running; default on except in production)."
        ),
    ] = True,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the webhooks.")] = 20.0,
    remove_foreign: Annotated[
        bool,
        typer.Option(
            help="Remove the webhook registrations for our address whose secret payrequest "
            "does not hold (otherwise you are asked, when there is someone to ask)."
        ),
    ] = False,
) -> None:
    """Check the credentials, the webhook registrations, what the sales unit may do (outside
    production, with throw-away payments), and (optionally) a webhook round trip."""
    settings = _settings()
    runtime = build_runtime(settings)
    if settings.provider_mode is ProviderMode.production:
        round_trip = False
    ask = _ask if sys.stdin.isatty() else None
    with acting_for(ALL):
        ok = asyncio.run(
            _check(
                runtime, round_trip=round_trip, wait=wait, remove_foreign=remove_foreign, ask=ask
            )
        )
    raise typer.Exit(0 if ok else 1)


def _ask(ids: Sequence[str]) -> bool:
    return typer.confirm(f"Remove the registrations {', '.join(ids)}?", default=False)


async def _check(
    runtime: Runtime,
    *,
    round_trip: bool,
    wait: float,
    remove_foreign: bool = False,
    ask: Callable[[Sequence[str]], bool] | None = None,
) -> bool:
    """Print the findings; True when nothing is left to act on."""
    try:
        report = await runtime.check_provider()
        for finding in report.findings:
            _print(finding)
        listed = report.listed
        if listed is None:  # the credentials, or reaching Vipps MobilePay, failed
            return False
        ok = all(f.ok is not False for f in report.findings if f.key != "webhook.foreign")
        if listed.foreign:
            cleared = await _offer_removal(runtime, listed, remove=remove_foreign, ask=ask)
            ok = ok and cleared
        if not round_trip or not listed.ours:
            return ok
        trip = await webhook_check.round_trip(
            runtime.sessions,
            runtime.directory.installation,
            market=runtime.settings.vipps.market,
            wait=wait,
        )
        return _report(trip, wait) and ok
    except ProviderError as exc:
        _refused(exc)
        return False
    finally:
        await runtime.close()


MARKS = {True: "[green]✓[/green]", False: "[red]✗[/red]", None: "[yellow]![/yellow]"}


def _print(finding: checks.Finding) -> None:
    """One finding as a plain English sentence, and Vipps MobilePay's own words beneath."""
    console.print(f"{MARKS[finding.ok]} {escape(checks.shown(ENGLISH, finding))}")
    if finding.said:
        console.print(f"  Vipps MobilePay said: {finding.said}", markup=False)


async def _offer_removal(
    runtime: Runtime,
    listed: checks.Listed,
    *,
    remove: bool,
    ask: Callable[[Sequence[str]], bool] | None,
) -> bool:
    """Remove the foreign registrations if told to or if the person agrees; never silently.
    True when none is left."""
    ids = [hook.endpoint_id for hook in listed.foreign]
    if not remove and (ask is None or not ask(ids)):
        return False
    removed = await setup.remove_foreign(
        runtime.sessions, runtime.directory.installation, url=listed.url, endpoint_ids=ids
    )
    console.print(f"[green]✓[/green] removed the registrations {escape(', '.join(removed))}")
    return set(removed) == set(ids)


def _refused(exc: ProviderError) -> None:
    """What went wrong in plain words, then the provider's own for a support case."""
    _print(checks.refused(exc))


def _report(trip: webhook_check.RoundTrip, wait: float) -> bool:
    if trip.received:
        console.print(
            f"[green]✓[/green] webhook round trip: received {webhook_check.shown(trip.received)} "
            f"in {trip.elapsed_ms} ms"
        )
        if trip.missing:
            console.print(f"[yellow]![/yellow] not received: {webhook_check.shown(trip.missing)}")
        return True
    console.print(
        f"[red]✗[/red] no webhook for {trip.reference} within {wait:.0f} s: is the "
        "server running at PAYREQUEST_PUBLIC_URL and reachable from Vipps?"
    )
    return False
