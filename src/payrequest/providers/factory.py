"""Build the installation's own payment providers from settings: Vipps MobilePay (always;
the emulator's test unit in sandbox mode) and Stripe (once a secret key is set; the built-in
Stripe emulator in sandbox mode). Organisations' own connections are built in
`connections.clients`."""

from __future__ import annotations

import httpx

from payrequest.config import ProviderMode, Settings
from payrequest.kit.urls import PublicUrls
from payrequest.providers.base import PaymentProvider
from payrequest.providers.measured import measured
from payrequest.providers.stripe.factory import STRIPE_API, StripeAccount, build_stripe
from payrequest.providers.stripe.provider import StripeProvider
from payrequest.providers.vipps.client import Credentials, RetryPolicy, VippsClient
from payrequest.providers.vipps.provider import VippsProvider, capabilities_for

VIPPS_BASE_URLS = {
    ProviderMode.production: "https://api.vipps.no",
    ProviderMode.test: "https://apitest.vipps.no",
}


def vipps_base_url(settings: Settings) -> str:
    if settings.vipps.base_url:
        return settings.vipps.base_url.rstrip("/")
    if settings.provider_mode is ProviderMode.sandbox:
        return PublicUrls(settings.public_url).sandbox()
    return VIPPS_BASE_URLS[settings.provider_mode]


def webhook_url(settings: Settings) -> str:
    """The public URL Vipps MobilePay calls, and signs, for our webhooks."""
    return PublicUrls(settings.public_url).webhook(VippsProvider.name)


def vipps_credentials(settings: Settings) -> Credentials:
    vipps = settings.vipps
    return Credentials(
        client_id=vipps.client_id or "",
        client_secret=vipps.client_secret.get_secret_value() if vipps.client_secret else "",
        subscription_key=(
            vipps.subscription_key.get_secret_value() if vipps.subscription_key else ""
        ),
        merchant_serial_number=vipps.merchant_serial_number or "",
    )


def build_vipps(
    settings: Settings,
    *,
    version: str,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy | None = None,
) -> VippsProvider:
    client = VippsClient(
        base_url=vipps_base_url(settings),
        credentials=vipps_credentials(settings),
        system_version=version,
        timeout=settings.vipps.timeout_seconds,
        retry=retry,
        transport=transport,
    )
    return VippsProvider(
        client,
        webhook_url=webhook_url(settings),
        capabilities=capabilities_for(
            settings.vipps.market, long_living=settings.vipps.long_living_approved
        ),
    )


def build_provider(settings: Settings, *, version: str) -> PaymentProvider:
    """The provider, its calls timed and counted for /metrics (providers.measured)."""
    return measured(build_vipps(settings, version=version))


def stripe_api_base(settings: Settings) -> str:
    if settings.stripe.api_base:
        return settings.stripe.api_base.rstrip("/")
    if settings.provider_mode is ProviderMode.sandbox:
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
