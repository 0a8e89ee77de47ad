"""The Stripe emulator: an offline stand-in for the part of Stripe's API payrequest uses
(Checkout Sessions, PaymentIntents, Refunds, Events, webhook endpoints), with a hosted
checkout page that takes Stripe's test cards, signed webhook deliveries and fault switches.
The official `stripe` SDK talks to it unchanged (docs/stripe.md#the-stripe-emulator).

Mounting inside another FastAPI app (the mounted app's lifespan does not run)::

    from payrequest.sandbox.stripe import StripeConfig, create_stripe_app, stripe_of_app

    stripe_app = create_stripe_app(StripeConfig(secret_keys=("sk_test_sandbox",)))
    app.mount("/sandbox/stripe", stripe_app)
    # in the parent's lifespan:
    await stripe_of_app(stripe_app).start()
    ...
    await stripe_of_app(stripe_app).stop()

The SDK then uses `base_addresses={"api": "http://HOST:PORT/sandbox/stripe"}`.
"""

from payrequest.sandbox.stripe.app import create_stripe_app, stripe_of_app
from payrequest.sandbox.stripe.config import ConfiguredWebhook, StripeConfig
from payrequest.sandbox.stripe.emulator import StripeEmulator
from payrequest.sandbox.stripe.faults import StripeFaults

__all__ = [
    "ConfiguredWebhook",
    "StripeConfig",
    "StripeEmulator",
    "StripeFaults",
    "create_stripe_app",
    "stripe_of_app",
]
