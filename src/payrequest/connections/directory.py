"""Which provider client an organisation's payments through a provider go through.

- An organisation with a connection of its own to the provider
  (connections.models.ProviderConnection) uses a client built from it (its own keys, or the
  installation's platform keys naming its account). The client is built once and rebuilt
  when the connection changes (looked at again after `RECHECK` seconds).
- The installation's first organisation without one uses the installation's own client of
  that provider, from the environment (PAYREQUEST_VIPPS__*, PAYREQUEST_STRIPE__*): a single
  business keeps working as it did before organisations existed, and the demo needs no set-up.
- Any other organisation without one gets `NotConnected`: nothing is sent for it through
  another business's account.

`ProvidersOfTheScope` is the one object the payment flow holds: it gives the provider a
payment names, as the organisation the work is for (db.scope) connected it, so sending,
polling, capturing and refunding for organisation A can only ever use A's sales unit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.connections import service
from payrequest.connections.models import ProviderConnection
from payrequest.db.scope import ALL, current, scoped_to
from payrequest.errors import N_, Conflict
from payrequest.kit.crypto import SecretBox
from payrequest.kit.urls import PublicUrls
from payrequest.organisations.models import Organisation
from payrequest.providers.accounts import StoredAccount
from payrequest.providers.base import Capabilities, PaymentProvider, UnknownProvider

RECHECK = 5.0  # seconds a process trusts what it knows of an organisation's connection
# What an organisation without a provider can take: nothing (pages show no pay buttons).
NOTHING_PAYABLE = Capabilities(long_living=False, currencies=frozenset())


class NotConnected(Conflict):
    """The organisation has not connected an account at the provider yet."""

    code = "not_connected"

    def __init__(self) -> None:
        super().__init__(
            N_("Connect a payment provider in Settings before sending payment requests")
        )


@dataclass
class _Known:
    # (connection id, its updated_at, long-living approved); None: the installation's
    key: tuple[int, float, bool] | None
    provider: PaymentProvider
    checked: float
    connection_id: int | None
    lifetime_minutes: int  # the organisation's request lifetime setting


class ProviderDirectory:
    """Provider clients per organisation and provider (see the module's docstring)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        box: SecretBox,
        urls: PublicUrls,
        build: Callable[[StoredAccount, bool], PaymentProvider],
        installation: PaymentProvider,
        card: PaymentProvider | None = None,
        card_name: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._urls = urls
        self._build = build
        # The installation's own connections (the environment's): of the default provider,
        # and of the card provider when one is configured (docs/providers.md).
        self.installation = installation
        self.card = card
        # The provider card payments go through: organisations may connect their own account
        # there even when the installation has none.
        self.card_name = card.name if card is not None else card_name
        self._known: dict[tuple[int, str], _Known] = {}
        self._built: dict[tuple[int, float, bool], PaymentProvider] = {}
        self._first: int | None = None
        self._lock = asyncio.Lock()

    @property
    def names(self) -> tuple[str, ...]:
        """The providers an organisation can pay through here."""
        return tuple(n for n in (self.installation.name, self.card_name) if n is not None)

    async def for_organisation(
        self, organisation_id: int, provider: str | None = None
    ) -> PaymentProvider:
        """The client of the organisation's account at `provider` (default: the default
        provider): its own connection's, or the installation's for the first organisation;
        NotConnected otherwise."""
        name = provider or self.installation.name
        known = self._known.get((organisation_id, name))
        if known is not None and time.monotonic() - known.checked < RECHECK:
            return known.provider
        async with self._lock:
            return (await self._load(organisation_id, name)).provider

    def installed(self, name: str) -> PaymentProvider:
        """The installation's own client of provider `name` (for reading its webhooks)."""
        provider = self._installed_or_none(name)
        if provider is None:
            raise UnknownProvider(f"no provider named {name!r}")
        return provider

    def _installed_or_none(self, name: str) -> PaymentProvider | None:
        return next((p for p in (self.installation, self.card) if p and p.name == name), None)

    async def card_provider_for(self, organisation_id: int) -> PaymentProvider:
        """The card provider the organisation's card payments go through: its own account,
        or the installation's for its first organisation (the business it was set up for);
        NotConnected otherwise."""
        if self.card_name is None:
            raise NotConnected()
        return await self.for_organisation(organisation_id, self.card_name)

    async def _first_organisation(self, session: AsyncSession | None = None) -> int | None:
        """The installation's first organisation (looked up once), in `session` if given."""
        if self._first is None:
            if session is None:
                async with self._sessions(info=scoped_to(ALL)) as own:
                    return await self._first_organisation(own)
            self._first = await session.scalar(select(func.min(Organisation.id)))
        return self._first

    async def connection_of(self, organisation_id: int, provider: str | None = None) -> int | None:
        """The id of the connection the organisation's payments through `provider` go
        through (None: the installation's)."""
        name = provider or self.installation.name
        await self.for_organisation(organisation_id, name)
        return self._known[(organisation_id, name)].connection_id

    async def uses_installation(self, organisation_id: int, provider: str | None = None) -> bool:
        """Whether the organisation's payments through `provider` go through the
        installation's own connection (the environment's): then its staff see and look after
        that connection."""
        try:
            return await self.connection_of(organisation_id, provider) is None
        except NotConnected:
            return False

    async def lifetime_minutes(self, organisation_id: int, provider: str | None = None) -> int:
        """The organisation's setting of how long a new payment request may wait (read with
        its connection to `provider`; NotConnected without one)."""
        name = provider or self.installation.name
        await self.for_organisation(organisation_id, name)
        return self._known[(organisation_id, name)].lifetime_minutes

    def known(self, organisation_id: int, provider: str | None = None) -> PaymentProvider | None:
        """The organisation's client of `provider` if this process has looked it up before."""
        found = self._known.get((organisation_id, provider or self.installation.name))
        return found.provider if found is not None else None

    def forget(self, organisation_id: int) -> None:
        """Look the organisation's connections up again at their next use (one just changed)."""
        for key in [key for key in self._known if key[0] == organisation_id]:
            del self._known[key]

    async def _load(self, organisation_id: int, name: str) -> _Known:
        async with self._sessions(info=scoped_to(ALL)) as session:
            connection = await session.scalar(
                select(ProviderConnection).where(
                    ProviderConnection.organisation_id == organisation_id,
                    ProviderConnection.provider == name,
                )
            )
            first = await self._first_organisation(session)
            settings = (
                await session.execute(
                    select(
                        Organisation.long_living_approved, Organisation.request_lifetime_minutes
                    ).where(Organisation.id == organisation_id)
                )
            ).one()
            long_living, minutes = bool(settings[0]), int(settings[1])
            stored = (
                service.opened(connection, self._box, self._urls)
                if connection is not None
                else None
            )
            stamp = connection.updated_at.timestamp() if connection is not None else 0.0
        if stored is None:
            installed = self._installed_or_none(name)
            if organisation_id != first or installed is None:
                raise NotConnected()
            known = _Known(None, installed, time.monotonic(), None, minutes)
        else:
            key = (stored.id, stamp, long_living)
            provider = self._built.get(key)
            if provider is None:
                stale = [k for k in self._built if k[0] == stored.id]
                for old in stale:
                    await self._built.pop(old).close()
                provider = self._built[key] = self._build(stored, long_living)
            known = _Known(key, provider, time.monotonic(), stored.id, minutes)
        self._known[(organisation_id, name)] = known
        return known

    async def close(self) -> None:
        for provider in self._built.values():
            await provider.close()
        self._built.clear()
        await self.installation.close()
        if self.card is not None:
            await self.card.close()


class ProvidersOfTheScope:
    """The `PaymentProviders` of the organisation the work is for (db.scope: the request's,
    the job's): `named` gives the client of that organisation's connection, so sending,
    polling, capturing and refunding for organisation A can only ever use A's account. Work
    for no organisation, or for all of them, has no provider to call: a programming error."""

    def __init__(self, directory: ProviderDirectory) -> None:
        self.directory = directory

    @property
    def default_name(self) -> str:
        """The provider new payment requests go through unless they are card payments."""
        return self.directory.installation.name

    @property
    def card_name(self) -> str | None:
        """The provider card payments go through (None: this installation takes none)."""
        return self.directory.card_name

    def reader(self, name: str) -> PaymentProvider:
        """The installation's own client of `name`, for the webhooks of its own address."""
        return self.directory.installed(name)

    async def named(self, name: str) -> PaymentProvider:
        if name not in self.directory.names:
            raise UnknownProvider(f"no provider named {name!r}")
        scope = current()
        if not isinstance(scope, int):
            raise RuntimeError(f"a provider call needs one organisation; the scope is {scope!r}")
        return await self.directory.for_organisation(scope, name)

    async def default(self) -> PaymentProvider:
        """The organisation's provider for new payment requests; NotConnected without one."""
        return await self.named(self.default_name)

    async def card(self) -> PaymentProvider:
        """The organisation's card provider; NotConnected without one."""
        name = self.card_name
        if name is None:
            raise NotConnected()
        return await self.named(name)

    async def close(self) -> None:
        await self.directory.close()
