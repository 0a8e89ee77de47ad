"""The app `payrequest sandbox` serves: the Vipps MobilePay emulator at the root paths and the
Stripe emulator under `/stripe` (docs/stripe.md#starting-it).

Neither mounted app's lifespan runs, so this parent starts and stops both emulators. Its
`state.sandbox` is the Vipps emulator (what `sandbox_of_app` reads) and `state.stripe` the
Stripe one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from payrequest.sandbox.app import create_sandbox_app, sandbox_of_app
from payrequest.sandbox.config import SandboxConfig
from payrequest.sandbox.stripe import StripeConfig, create_stripe_app, stripe_of_app
from payrequest.sandbox.stripe.errors import masked

STRIPE_MOUNT = "/stripe"


def create_standalone_app(config: SandboxConfig, stripe_config: StripeConfig) -> FastAPI:
    vipps_app = create_sandbox_app(config)
    stripe_app = create_stripe_app(stripe_config)
    vipps, stripe = sandbox_of_app(vipps_app), stripe_of_app(stripe_app)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await vipps.start()
        await stripe.start()
        try:
            yield
        finally:
            await stripe.stop()
            await vipps.stop()

    parent = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    parent.state.sandbox = vipps
    parent.state.stripe = stripe
    parent.mount(STRIPE_MOUNT, stripe_app)
    parent.mount("/", vipps_app)
    return parent


def stripe_banner(config: StripeConfig, url: str) -> str:
    """What the command prints about the Stripe emulator: base address, keys (the default
    test key in full, others masked), configured webhooks with their signing secrets."""
    base = f"{url}{STRIPE_MOUNT}"
    lines = [
        "Stripe emulator",
        f"  API base address    {base}   (StripeClient base_addresses={{'api': ...}})",
        f"  controls            {base}/control/faults, /control/deliveries, /control/accounts",
    ]
    for key in config.secret_keys:
        shown = key if key == "sk_test_sandbox" else masked(key)
        lines.append(f"  secret key          {shown}")
    if config.any_test_key:
        lines.append("  + any sk_test_ key  (an account of its own)")
    for hook in config.webhooks:
        lines.append(f"  webhook             {hook.url}  ({', '.join(hook.events)})")
        lines.append(f"    signing secret    {config.webhook_secret(hook)}")
    return "\n".join(lines)
