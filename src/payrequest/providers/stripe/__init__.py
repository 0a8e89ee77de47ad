"""Stripe card payments through Checkout Sessions, Refunds, Events and webhook endpoints, with
the official `stripe` SDK (rules: docs/stripe.md#the-stripe-adapter)."""

from payrequest.providers.stripe.factory import StripeSettings, build_stripe
from payrequest.providers.stripe.provider import StripeProvider

__all__ = ["StripeProvider", "StripeSettings", "build_stripe"]
