"""An organisation's own Vipps MobilePay sales unit (providers.accounts).

- `account`: the sales unit's merchant serial number (MSN);
- `details`: its market (NO, DK, FI) and, with keys of its own, its client id;
- `secrets`: its client secret and subscription key; none in platform mode, where the
  installation's partner keys act for it sending its MSN (docs/deployment.md, "Partner keys").
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping

from payrequest.config import ProviderMode, Settings
from payrequest.errors import ValidationFailed
from payrequest.kit.urls import PublicUrls
from payrequest.providers.accounts import CheckSettings, NewAccount, StoredAccount
from payrequest.providers.base import PaymentProvider
from payrequest.providers.checks import Listed, Report
from payrequest.providers.measured import measured
from payrequest.providers.vipps import checkup
from payrequest.providers.vipps.client import Credentials, VippsClient
from payrequest.providers.vipps.factory import vipps_base_url
from payrequest.providers.vipps.provider import VippsProvider, capabilities_for

MARKETS = ("NO", "DK", "FI")
MSN_PATTERN = r"^[0-9]{4,10}$"
MAX_CREDENTIAL = 200
KEYS = ("client_id", "client_secret", "subscription_key")


class NoPartnerKeys(ValueError):
    """A connection without keys of its own, on an installation without partner keys."""


def has_partner_keys(settings: Settings) -> bool:
    vipps = settings.vipps
    return bool(
        vipps.partner_client_id and vipps.partner_client_secret and vipps.partner_subscription_key
    )


def sales_unit(
    *,
    market: str,
    merchant_serial_number: str,
    client_id: str | None = None,
    client_secret: str | None = None,
    subscription_key: str | None = None,
) -> NewAccount:
    """A sales unit as a connection keeps it; checked (ValidationFailed naming the field)."""
    if market not in MARKETS:
        raise ValidationFailed("Market must be one of %(markets)s", field="market", markets=MARKETS)
    if not re.fullmatch(MSN_PATTERN, merchant_serial_number):
        raise ValidationFailed(
            "The merchant serial number (MSN) is 4 to 10 digits", field="merchant_serial_number"
        )
    own = (client_id, client_secret, subscription_key)
    if any(own) and not all(own):
        raise ValidationFailed(
            "Enter the client id, the client secret and the subscription key together",
            field="client_id",
        )
    for value in own:
        if value is not None and (len(value) > MAX_CREDENTIAL or not value.isprintable()):
            raise ValidationFailed("A key is too long or holds characters no key has")
    details = {"market": market}
    secrets: dict[str, str] = {}
    if client_id and client_secret and subscription_key:
        details["client_id"] = client_id.strip()
        secrets = {"client_secret": client_secret, "subscription_key": subscription_key}
    return NewAccount(account=merchant_serial_number, details=details, secrets=secrets)


class VippsAccounts:
    """Organisations' own sales units (see the module's docstring)."""

    name = VippsProvider.name
    fields: tuple[str, ...] = ("market", "merchant_serial_number", *KEYS)

    def read(self, form: Mapping[str, str], *, mode: str, settings: Settings) -> NewAccount:
        values = {key: (form.get(key) or "").strip() or None for key in KEYS}
        if values["client_id"] is None and not has_partner_keys(settings):
            raise ValidationFailed(
                "Enter the client id, the client secret and the subscription key together",
                field="client_id",
            )
        return sales_unit(
            market=form.get("market", ""),
            merchant_serial_number=(form.get("merchant_serial_number") or "").strip(),
            **values,
        )

    def build(
        self,
        stored: StoredAccount,
        *,
        settings: Settings,
        urls: PublicUrls,
        version: str,
        long_living: bool,
    ) -> PaymentProvider:
        client = VippsClient(
            base_url=vipps_base_url(settings, ProviderMode(stored.mode)),
            credentials=credentials(stored, settings),
            system_version=version,
            timeout=settings.vipps.timeout_seconds,
        )
        provider = VippsProvider(
            client,
            webhook_url=stored.webhook_url,
            capabilities=capabilities_for(stored.details["market"], long_living=long_living),
        )
        return measured(provider)

    async def check(
        self,
        provider: PaymentProvider,
        stored: StoredAccount,
        *,
        look_up: Callable[[], Awaitable[Listed]],
        settings: CheckSettings,
    ) -> Report:
        return await checkup.run(
            provider,
            look_up=look_up,
            market=stored.details["market"],
            try_payments=settings.try_payments,
            long_living_setting=settings.long_living_setting,
        )


async def check_installation_unit(
    provider: PaymentProvider, settings: Settings, *, look_up: Callable[[], Awaitable[Listed]]
) -> Report:
    """The check of the installation's own sales unit, from PAYREQUEST_VIPPS__*."""
    return await checkup.run(
        provider,
        look_up=look_up,
        market=settings.vipps.market,
        try_payments=settings.provider_mode is not ProviderMode.production,
        long_living_setting=settings.vipps.long_living_approved,
    )


def credentials(stored: StoredAccount, settings: Settings) -> Credentials:
    """The sales unit's own keys, or the installation's partner keys sending its MSN."""
    if "client_id" in stored.details:
        return Credentials(
            client_id=stored.details["client_id"],
            client_secret=stored.secrets.get("client_secret", ""),
            subscription_key=stored.secrets.get("subscription_key", ""),
            merchant_serial_number=stored.account,
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
        merchant_serial_number=stored.account,
    )


VIPPS_ACCOUNTS = VippsAccounts()
