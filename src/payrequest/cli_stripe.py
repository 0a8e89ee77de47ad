"""`payrequest stripe register-webhook`: register the installation's Stripe webhook endpoint
for PAYREQUEST_PUBLIC_URL (`/webhooks/stripe`) with the events payrequest reads, keeping its
signing secret sealed; stale endpoints for that URL are removed (docs/stripe.md).

Like `payrequest vipps ...` it acts for the installation's own account (the environment's
PAYREQUEST_STRIPE__SECRET_KEY), so it takes no `--org`. In sandbox mode the server registers
the endpoint with its mounted emulator by itself at start."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from payrequest.config import ConfigurationError, load_settings
from payrequest.db.scope import ALL, acting_for
from payrequest.inbound.setup import WebhookStatus, ensure_webhook
from payrequest.providers.base import ProviderError
from payrequest.runtime import build_runtime

stripe_app = typer.Typer(help="Stripe setup: the webhook endpoint.", no_args_is_help=True)
console = Console()


@stripe_app.command("register-webhook")
def register_webhook() -> None:
    """Register one webhook endpoint for PAYREQUEST_PUBLIC_URL; remove stale ones."""
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    if settings.stripe.secret_key is None:
        typer.echo("error: set PAYREQUEST_STRIPE__SECRET_KEY (the Stripe secret key)", err=True)
        raise typer.Exit(2)
    runtime = build_runtime(settings)
    card = runtime.directory.card
    assert card is not None  # built from the key above

    async def run() -> WebhookStatus:
        try:
            with acting_for(ALL):
                return await ensure_webhook(
                    runtime.sessions, card, url=runtime.urls.webhook(card.name), box=runtime.box
                )
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
        console.print(f"Removed stale endpoints: {', '.join(status.removed)}")
