"""The providers this installation knows, by name, and its own clients of them.

- The default provider (Vipps MobilePay) is always there: the installation's own client from
  PAYREQUEST_VIPPS__* (the emulator's test unit in sandbox mode).
- The card provider (Stripe): the installation's own account once PAYREQUEST_STRIPE__SECRET_KEY
  is set (the built-in emulator in sandbox mode); organisations may connect their own.
- `ACCOUNTS`: each provider's `AccountKind` (providers.accounts), for organisations' own
  connections: the form, the client, the check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from payrequest.config import Settings
from payrequest.kit.urls import PublicUrls
from payrequest.providers.accounts import AccountKind, StoredAccount
from payrequest.providers.base import PaymentProvider, UnknownProvider
from payrequest.providers.checks import Listed, Report
from payrequest.providers.measured import measured
from payrequest.providers.stripe.account import STRIPE_ACCOUNTS
from payrequest.providers.stripe.factory import build_installation_stripe
from payrequest.providers.vipps.account import VIPPS_ACCOUNTS, check_installation_unit
from payrequest.providers.vipps.factory import build_vipps

ACCOUNTS: dict[str, AccountKind] = {kind.name: kind for kind in (VIPPS_ACCOUNTS, STRIPE_ACCOUNTS)}
DEFAULT_PROVIDER = VIPPS_ACCOUNTS.name
CARD_PROVIDER = STRIPE_ACCOUNTS.name


def account_kind(name: str) -> AccountKind:
    """The accounts of provider `name`; UnknownProvider for a name of none."""
    try:
        return ACCOUNTS[name]
    except KeyError:
        raise UnknownProvider(f"no provider named {name!r}") from None


def build_provider(settings: Settings, *, version: str) -> PaymentProvider:
    """The installation's own client of the default provider, its calls timed and counted
    for /metrics (providers.measured)."""
    return measured(build_vipps(settings, version=version))


def build_card_provider(settings: Settings) -> PaymentProvider | None:
    """The installation's own card account; None while none is configured."""
    return build_installation_stripe(settings)


def build_account(
    stored: StoredAccount,
    *,
    settings: Settings,
    urls: PublicUrls,
    version: str,
    long_living: bool,
) -> PaymentProvider:
    """The client of an organisation's own account (connections.directory)."""
    return account_kind(stored.provider).build(
        stored, settings=settings, urls=urls, version=version, long_living=long_living
    )


async def check_installation(
    provider: PaymentProvider, settings: Settings, *, look_up: Callable[[], Awaitable[Listed]]
) -> Report:
    """The check of the installation's own connection of the default provider (`payrequest
    vipps check`, Settings): its keys, its webhook registrations and, outside production,
    what its account may do."""
    return await check_installation_unit(provider, settings, look_up=look_up)
