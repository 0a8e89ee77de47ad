"""Build Vipps MobilePay clients: the installation's own (from PAYREQUEST_VIPPS__*; the
emulator's test unit in sandbox mode) and, through `account.VIPPS_ACCOUNTS`, an
organisation's own sales unit."""

from __future__ import annotations

import httpx

from payrequest.config import ProviderMode, Settings
from payrequest.kit.urls import PublicUrls
from payrequest.providers.vipps.client import Credentials, RetryPolicy, VippsClient
from payrequest.providers.vipps.provider import VippsProvider, capabilities_for

VIPPS_BASE_URLS = {
    ProviderMode.production: "https://api.vipps.no",
    ProviderMode.test: "https://apitest.vipps.no",
}


def vipps_base_url(settings: Settings, mode: ProviderMode | None = None) -> str:
    """Where a client calls: the installation's (mode None) at PAYREQUEST_VIPPS__BASE_URL if
    set; a connection in `mode` at the emulator (that address too, if set) in sandbox mode,
    at Vipps MobilePay's test or live API otherwise."""
    override = settings.vipps.base_url
    if mode is None:
        if override:
            return override.rstrip("/")
        mode = settings.provider_mode
    if mode is ProviderMode.sandbox:
        return (override or PublicUrls(settings.public_url).sandbox()).rstrip("/")
    return VIPPS_BASE_URLS[mode]


def webhook_url(settings: Settings) -> str:
    """The public URL Vipps MobilePay calls, and signs, for the installation's webhooks."""
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
    """The installation's own client, from the environment."""
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
