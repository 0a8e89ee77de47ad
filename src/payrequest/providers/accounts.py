"""An organisation's account at a payment provider, as its connection keeps it.

Every provider keeps the same three things (connections.models.ProviderConnection):
- `account`: the provider's public name of the account (Vipps MobilePay's merchant serial
  number; for Stripe the account id, or our label of it), shown on Settings;
- `details`: what else building the client needs that is not secret;
- `secrets`: the keys, sealed one by one with the installation's key and never shown back;
  none at all means the account acts through the installation's platform keys, where the
  provider has such.

What those hold, how an owner's form is checked, how the client is built and how the
connection is checked is the provider's own business: `providers/<name>/account.py` gives
an `AccountKind`, and `providers.kinds` names them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from payrequest.config import Settings
from payrequest.kit.urls import PublicUrls
from payrequest.providers.base import PaymentProvider
from payrequest.providers.checks import Listed, Report


@dataclass(frozen=True, slots=True)
class NewAccount:
    """What an owner's form (or the emulator's set-up) gives, checked by the provider's kind."""

    account: str
    details: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredAccount:
    """A connection with its secrets opened, for building its client (never shown)."""

    id: int
    organisation_id: int
    provider: str
    mode: str  # sandbox (the emulator), test or production
    account: str
    webhook_url: str  # the connection's own address for the provider's webhooks
    details: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class CheckSettings:
    """What a connection check may do and compare with."""

    try_payments: bool  # throw-away payments are allowed (never in production)
    long_living_setting: bool  # the organisation asked for long-living requests


class AccountKind(Protocol):
    """One provider's accounts: the form, the client, the check."""

    name: str  # the provider's name (PaymentProvider.name)
    # The form's fields, in order (the Settings page names each; secret ones are never shown).
    fields: tuple[str, ...]

    def read(self, form: Mapping[str, str], *, mode: str, settings: Settings) -> NewAccount:
        """Check what an owner entered (errors.ValidationFailed naming the field)."""
        ...

    def build(
        self,
        stored: StoredAccount,
        *,
        settings: Settings,
        urls: PublicUrls,
        version: str,
        long_living: bool,
    ) -> PaymentProvider:
        """The client of the stored account."""
        ...

    async def check(
        self,
        provider: PaymentProvider,
        stored: StoredAccount,
        *,
        look_up: Callable[[], Awaitable[Listed]],
        settings: CheckSettings,
    ) -> Report:
        """Check the account live: whether its keys work, and what its webhooks are."""
        ...
