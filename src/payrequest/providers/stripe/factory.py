"""Build Stripe clients: from a few values (`build_stripe`), the installation's own account
from PAYREQUEST_STRIPE__* (`build_installation_stripe`), and, through
`account.STRIPE_ACCOUNTS`, an organisation's own."""

from __future__ import annotations

from dataclasses import dataclass, field

from payrequest.config import ProviderMode, Settings
from payrequest.kit.urls import PublicUrls
from payrequest.providers.base import PaymentProvider
from payrequest.providers.measured import measured
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


def stripe_api_base(settings: Settings, mode: ProviderMode | None = None) -> str:
    """Where a client calls: PAYREQUEST_STRIPE__API_BASE if set (for the installation's, and
    for any in sandbox mode), the built-in emulator in sandbox mode, Stripe's API otherwise."""
    mode = mode or settings.provider_mode
    override = settings.stripe.api_base
    if override and (mode is settings.provider_mode or mode is ProviderMode.sandbox):
        return override.rstrip("/")
    if mode is ProviderMode.sandbox:
        return PublicUrls(settings.public_url).sandbox_stripe()
    return STRIPE_API


def build_installation_stripe(settings: Settings) -> PaymentProvider | None:
    """The installation's Stripe account, measured; None while no secret key is set."""
    stripe = settings.stripe
    if stripe.secret_key is None:
        return None
    account = StripeAccount(
        secret_key=stripe.secret_key.get_secret_value(),
        account=stripe.account,
        webhook_url=PublicUrls(settings.public_url).webhook(StripeProvider.name),
        api_base=stripe_api_base(settings),
        timeout_seconds=stripe.timeout_seconds,
    )
    return measured(build_stripe(account))
