"""Stripe card payments through Checkout Sessions, Refunds, Events and webhook endpoints, with
the official `stripe` SDK (rules: docs/stripe.md#the-stripe-adapter)."""

from payrequest.providers.stripe.factory import StripeAccount, build_stripe
from payrequest.providers.stripe.provider import StripeProvider

__all__ = ["StripeAccount", "StripeProvider", "build_stripe"]
