"""Build the provider client of one connection: where it calls (the emulator, the test or the
live API), with whose keys (its own, or the installation's partner keys sending its merchant
serial number), and the webhook URL that is its own."""

from __future__ import annotations

from payrequest.config import ProviderMode, Settings
from payrequest.connections.service import Opened
from payrequest.kit.urls import PublicUrls
from payrequest.providers.base import PaymentProvider
from payrequest.providers.factory import VIPPS_BASE_URLS
from payrequest.providers.measured import measured
from payrequest.providers.vipps.client import Credentials, VippsClient
from payrequest.providers.vipps.provider import VippsProvider, capabilities_for


class NoPartnerKeys(ValueError):
    """A connection without keys of its own, on an installation without partner keys."""


def base_url(opened: Opened, settings: Settings, urls: PublicUrls) -> str:
    if opened.mode == ProviderMode.sandbox.value:
        return (settings.vipps.base_url or urls.sandbox()).rstrip("/")
    return VIPPS_BASE_URLS[ProviderMode(opened.mode)]


def credentials(opened: Opened, settings: Settings) -> Credentials:
    if opened.client_id is not None:
        return Credentials(
            client_id=opened.client_id,
            client_secret=opened.client_secret or "",
            subscription_key=opened.subscription_key or "",
            merchant_serial_number=opened.merchant_serial_number,
        )
    vipps = settings.vipps
    if not (
        vipps.partner_client_id and vipps.partner_client_secret and vipps.partner_subscription_key
    ):
        raise NoPartnerKeys("this installation holds no partner keys (PAYREQUEST_VIPPS__PARTNER_*)")
    return Credentials(
        client_id=vipps.partner_client_id,
        client_secret=vipps.partner_client_secret.get_secret_value(),
        subscription_key=vipps.partner_subscription_key.get_secret_value(),
        merchant_serial_number=opened.merchant_serial_number,
    )


def build(
    opened: Opened,
    *,
    settings: Settings,
    urls: PublicUrls,
    version: str,
    long_living: bool,
) -> PaymentProvider:
    client = VippsClient(
        base_url=base_url(opened, settings, urls),
        credentials=credentials(opened, settings),
        system_version=version,
        timeout=settings.vipps.timeout_seconds,
    )
    provider = VippsProvider(
        client,
        webhook_url=urls.connection_webhook(VippsProvider.name, opened.webhook_token),
        capabilities=capabilities_for(opened.market, long_living=long_living),
    )
    return measured(provider)
