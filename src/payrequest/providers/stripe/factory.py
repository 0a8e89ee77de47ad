"""Build a StripeProvider from a few settings (not wired into config.py or runtime.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from payrequest.providers.stripe.client import StripeApi
from payrequest.providers.stripe.provider import StripeProvider

STRIPE_API = "https://api.stripe.com"


@dataclass(frozen=True, slots=True)
class StripeAccount:
    """One Stripe account. `account`: our label of it (Stripe's events do not name it), the
    provider's `merchant_id`; `webhook_url`: the address our endpoint is registered at."""

    secret_key: str = field(repr=False)
    account: str
    webhook_url: str = ""
    api_base: str = STRIPE_API
    timeout_seconds: float = 6.0
    max_network_retries: int = 2


def build_stripe(settings: StripeAccount) -> StripeProvider:
    api = StripeApi(
        settings.secret_key,
        api_base=settings.api_base,
        timeout=settings.timeout_seconds,
        max_network_retries=settings.max_network_retries,
    )
    return StripeProvider(api, merchant_id=settings.account, webhook_url=settings.webhook_url)
