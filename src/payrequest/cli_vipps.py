"""`payrequest vipps ...`: webhook registration and a credentials + round-trip check."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import select

from payrequest.config import ConfigurationError, ProviderMode, Settings, load_settings
from payrequest.inbound.models import InboundEvent
from payrequest.inbound.setup import WebhookStatus, ensure_webhook
from payrequest.kit.ids import random_token
from payrequest.kit.money import Money
from payrequest.providers.base import CreatePayment, ProviderError, UserFlow
from payrequest.runtime import Runtime, build_runtime

vipps_app = typer.Typer(help="Vipps MobilePay setup: webhooks and checks.", no_args_is_help=True)
console = Console()
MARKET_CURRENCY = {"NO": "NOK", "DK": "DKK", "FI": "EUR"}


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
        reference = f"check-{random_token(9).replace('_', 'x')}"[:30]
        currency = MARKET_CURRENCY[runtime.settings.vipps.market]
        await provider.create_payment(
            CreatePayment(
                reference=reference,
                amount=Money(100, currency),
                description="payrequest connection check",
                user_flow=UserFlow.qr,
                idempotency_key=f"create-{reference}",
            )
        )
        await provider.cancel(reference, idempotency_key=f"cancel-{reference}")
        return await _wait_for_webhook(runtime, reference, wait)
    except ProviderError as exc:
        console.print(f"[red]✗[/red] {exc}")
        return False
    finally:
        await runtime.close()


async def _wait_for_webhook(runtime: Runtime, reference: str, wait: float) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        async with runtime.sessions() as session:
            found = (
                (
                    await session.execute(
                        select(InboundEvent.event_name).where(InboundEvent.reference == reference)
                    )
                )
                .scalars()
                .all()
            )
        if found:
            console.print(
                f"[green]✓[/green] webhook round trip: received {', '.join(str(n) for n in found)}"
            )
            return True
        await asyncio.sleep(0.5)
    console.print(
        f"[red]✗[/red] no webhook for {reference} within {wait:.0f} s: is the "
        "server running at PAYREQUEST_PUBLIC_URL and reachable from Vipps?"
    )
    return False
