"""`payrequest vipps ...`: webhook registration and a credentials + round-trip check."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from payrequest.config import ConfigurationError, ProviderMode, Settings, load_settings
from payrequest.inbound import check as webhook_check
from payrequest.inbound.setup import WebhookStatus, ensure_webhook
from payrequest.providers.base import ProviderError
from payrequest.runtime import Runtime, build_runtime

vipps_app = typer.Typer(help="Vipps MobilePay setup: webhooks and checks.", no_args_is_help=True)
console = Console()


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


async def _register(runtime: Runtime) -> WebhookStatus:
    return await ensure_webhook(
        runtime.sessions, runtime.provider, url=runtime.webhook_url, box=runtime.box
    )


@vipps_app.command("register-webhook")
def register_webhook() -> None:
    """Register one webhook for this sales unit and PAYREQUEST_PUBLIC_URL; remove stale ones."""
    runtime = build_runtime(_settings())

    async def run() -> WebhookStatus:
        try:
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
) -> None:
    """Check the credentials, the webhook registration and (optionally) a webhook round trip."""
    settings = _settings()
    runtime = build_runtime(settings)
    if settings.provider_mode is ProviderMode.production:
        round_trip = False
    ok = asyncio.run(_check(runtime, round_trip=round_trip, wait=wait))
    raise typer.Exit(0 if ok else 1)


async def _check(runtime: Runtime, *, round_trip: bool, wait: float) -> bool:
    provider = runtime.provider
    try:
        hooks = await provider.list_webhooks()
        console.print(f"[green]✓[/green] credentials accepted by {runtime.settings.provider_mode}")
        ours = [hook for hook in hooks if hook.url == runtime.webhook_url]
        if not ours:
            console.print(
                f"[red]✗[/red] no webhook for {runtime.webhook_url}: "
                "run `payrequest vipps register-webhook`"
            )
            return False
        console.print(f"[green]✓[/green] webhook registered for {runtime.webhook_url}")
        if not round_trip:
            return True
        trip = await webhook_check.round_trip(
            runtime.sessions, provider, market=runtime.settings.vipps.market, wait=wait
        )
        return _report(trip, wait)
    except ProviderError as exc:
        _refused(exc)
        return False
    finally:
        await runtime.close()


def _refused(exc: ProviderError) -> None:
    """What went wrong in plain words, then the provider's own for a support case."""
    console.print(f"[red]✗[/red] {escape(exc.message)}")
    said = [
        exc.detail or "",
        f"code {exc.code}" if exc.code else "",
        f"HTTP {exc.status}" if exc.status else "",
        f"trace {exc.trace_id}" if exc.trace_id else "",
    ]
    if any(said):
        console.print(f"  Vipps MobilePay said: {' · '.join(p for p in said if p)}", markup=False)


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
