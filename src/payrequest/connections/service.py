"""Connect an organisation to its own account at a provider, read the connection back, and
find the connection a webhook names. Service functions: session first, never commit.

What the account is made of, and how an owner's form is checked, is the provider's
(providers/<name>/account.py); here it is kept: secrets sealed with the installation's key
(kit.crypto.SecretBox) the moment they arrive and opened only to build the provider's client
(connections.directory); no page or command shows them back.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.connections.models import MODES, ProviderConnection
from payrequest.db.scope import organisation_of
from payrequest.errors import ValidationFailed
from payrequest.kit.clock import utcnow
from payrequest.kit.crypto import SecretBox
from payrequest.kit.ids import random_token
from payrequest.kit.urls import PublicUrls
from payrequest.providers.accounts import NewAccount, StoredAccount


@dataclass(frozen=True, slots=True)
class NewConnection:
    """A connection to make: an account at `provider`, in `mode`."""

    provider: str
    mode: str
    account: NewAccount


async def connect(
    session: AsyncSession,
    new: NewConnection,
    *,
    box: SecretBox,
    organisation_id: int | None = None,
) -> ProviderConnection:
    """Store (or replace) the organisation's (default: the session's) connection to
    `provider`, unchecked: the caller checks it live and registers its webhook. Its webhook
    URL's token is kept across a replacement (so a registration already at the provider stays
    valid)."""
    provider, mode, account = new.provider, new.mode, new.account
    if mode not in MODES:
        raise ValidationFailed("Mode must be one of %(modes)s", field="mode", modes=MODES)
    organisation_id = organisation_id or organisation_of(session.sync_session)
    connection = await current(session, provider, organisation_id=organisation_id)
    if connection is None:
        connection = ProviderConnection(
            organisation_id=organisation_id,
            provider=provider,
            webhook_token=random_token(24),
        )
        session.add(connection)
    connection.mode = mode
    connection.account = account.account
    connection.details = dict(account.details)
    connection.sealed = {name: box.seal(value) for name, value in account.secrets.items()}
    connection.status = "unchecked"
    connection.checked_at = None
    connection.last_error = None
    await session.flush()
    return connection


async def current(
    session: AsyncSession, provider: str, *, organisation_id: int | None = None
) -> ProviderConnection | None:
    """The organisation's (default: the session's) connection to `provider`, if any."""
    organisation_id = organisation_id or organisation_of(session.sync_session)
    found = await session.scalars(
        select(ProviderConnection).where(
            ProviderConnection.provider == provider,
            ProviderConnection.organisation_id == organisation_id,
        )
    )
    return found.one_or_none()


async def by_webhook_token(session: AsyncSession, token: str) -> ProviderConnection | None:
    """The connection whose webhook URL ends in `token` (the caller acts for ALL: the
    organisation is what it finds out)."""
    if not token or len(token) > 64:
        return None
    found = await session.scalars(
        select(ProviderConnection).where(ProviderConnection.webhook_token == token)
    )
    return found.one_or_none()


async def unchecked(session: AsyncSession, *, mode: str) -> list[tuple[int, str]]:
    """(organisation, provider) of the connections in `mode` never checked (acting for all)."""
    found = await session.execute(
        select(ProviderConnection.organisation_id, ProviderConnection.provider).where(
            ProviderConnection.mode == mode, ProviderConnection.status == "unchecked"
        )
    )
    return [(organisation, provider) for organisation, provider in found]


async def mark_checked(
    session: AsyncSession, connection: ProviderConnection, *, error: str | None
) -> None:
    connection.status = "failing" if error else "connected"
    connection.checked_at = utcnow()
    connection.last_error = error[:500] if error else None
    await session.flush()


def opened(connection: ProviderConnection, box: SecretBox, urls: PublicUrls) -> StoredAccount:
    """The connection with its secrets opened, for building its client (never shown)."""
    return StoredAccount(
        id=connection.id,
        organisation_id=connection.organisation_id,
        provider=connection.provider,
        mode=connection.mode,
        account=connection.account,
        webhook_url=urls.connection_webhook(connection.provider, connection.webhook_token),
        details=dict(connection.details),
        secrets={name: box.open(value) for name, value in connection.sealed.items()},
    )
