"""Settings of the Stripe emulator and its documented defaults (docs/stripe.md#the-stripe-emulator).

One emulator plays one Stripe account per secret key in `secret_keys` (default
`sk_test_sandbox`); with `any_test_key` every well-formed `sk_test_...` key is an account of its
own, so many tests can share one emulator without seeing each other's objects. Webhook
endpoints can be registered through the API (the create answer carries the signing secret) or
listed here in `webhooks` for the first key: their secret is derived from key and URL, so it is
the same after every restart, like the Stripe CLI's `listen` secret.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from payrequest.sandbox.stripe.faults import StripeFaults

DEFAULT_SECRET_KEY = "sk_test_sandbox"  # noqa: S105 - a documented test credential
# The API version of the SDK we pin (stripe 16.x); events are rendered with it.
API_VERSION = "2026-10-28.endive"
DEFAULT_MERCHANT_NAME = "Sandbox Merchant"
# Nominal webhook retry delays in seconds: test mode retries three times over a few hours.
DEFAULT_RETRY_SCHEDULE: tuple[float, ...] = (60.0, 600.0, 3600.0)
TEST_KEY = re.compile(r"sk_test_[A-Za-z0-9_]{6,200}")


def derived_webhook_secret(secret_key: str, url: str) -> str:
    """The stable `whsec_` secret of a configured endpoint: the same key and URL always give
    the same secret."""
    digest = hashlib.sha256(f"{secret_key}\n{url}".encode()).hexdigest()
    return f"whsec_{digest[:32]}"


@dataclass(frozen=True)
class ConfiguredWebhook:
    """An endpoint registered at start for the first key; `events` as `enabled_events`."""

    url: str
    events: tuple[str, ...] = ("*",)


@dataclass
class StripeConfig:
    """Everything one Stripe emulator needs. State is kept in memory (see docs)."""

    secret_keys: tuple[str, ...] = (DEFAULT_SECRET_KEY,)
    any_test_key: bool = False  # every `sk_test_` key is an account of its own
    merchant_name: str = DEFAULT_MERCHANT_NAME  # shown on the hosted checkout page
    api_version: str = API_VERSION
    webhooks: tuple[ConfiguredWebhook, ...] = ()
    webhook_retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    webhook_timeout: float = 10.0
    sweep_interval: float = 0.5  # seconds between expiry sweeps
    seed: int | None = None
    clock_speed: float = 1.0
    faults: StripeFaults = field(default_factory=StripeFaults)

    def __post_init__(self) -> None:
        self.secret_keys = tuple(self.secret_keys)
        self.webhooks = tuple(self.webhooks)
        if not self.secret_keys:
            raise ValueError("at least one secret key is needed")
        for key in self.secret_keys:
            if not TEST_KEY.fullmatch(key):
                raise ValueError("secret keys are test keys: sk_test_ and 6+ letters or digits")
        if len(set(self.secret_keys)) != len(self.secret_keys):
            raise ValueError("every secret key once")
        if self.clock_speed <= 0:
            raise ValueError("clock_speed must be positive")
        if not self.webhook_retry_schedule:
            raise ValueError("webhook_retry_schedule needs at least one delay")
        if self.clock_speed != 1.0:
            self.faults = self.faults.model_copy(update={"clock_speed": self.clock_speed})

    def webhook_secret(self, webhook: ConfiguredWebhook) -> str:
        return derived_webhook_secret(self.secret_keys[0], webhook.url)
