"""Connect an organisation to its Vipps MobilePay sales unit, read the connection back, and
find the connection a webhook names. Service functions: session first, never commit.

Credentials are sealed with the installation's key (kit.crypto.SecretBox) the moment they
arrive and opened only to build the provider client (connections.directory); no page or
command shows them back. A connection without credentials of its own (`platform`) acts
through the installation's partner keys and names only its merchant serial number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.connections.models import MARKETS, MODES, ProviderConnection
from payrequest.db.scope import organisation_of
from payrequest.errors import ValidationFailed
from payrequest.kit.clock import utcnow
from payrequest.kit.crypto import SecretBox
from payrequest.kit.ids import random_token

PROVIDER = "vipps"  # the one provider connections exist for today
MSN_PATTERN = r"^[0-9]{4,10}$"
MAX_CREDENTIAL = 200


@dataclass(frozen=True)
class SalesUnit:
    """What an owner enters to connect (or, with partner keys, only `merchant_serial_number`)."""

    mode: str  # sandbox, test or production
    market: str  # NO, DK, FI
    merchant_serial_number: str
    client_id: str | None = None  # None: through the installation's partner keys
    client_secret: str | None = None
    subscription_key: str | None = None


@dataclass(frozen=True)
class Opened:
    """A connection with its credentials opened, for building its client (never shown)."""

    id: int
    organisation_id: int
    mode: str
    market: str
    merchant_serial_number: str
    webhook_token: str
    client_id: str | None
    client_secret: str | None
    subscription_key: str | None


def _check(unit: SalesUnit) -> None:
    if unit.mode not in MODES:
        raise ValidationFailed("Mode must be one of %(modes)s", field="mode", modes=MODES)
    if unit.market not in MARKETS:
        raise ValidationFailed("Market must be one of %(markets)s", field="market", markets=MARKETS)
    if not re.fullmatch(MSN_PATTERN, unit.merchant_serial_number):
        raise ValidationFailed(
            "The merchant serial number (MSN) is 4 to 10 digits", field="merchant_serial_number"
        )
    own = (unit.client_id, unit.client_secret, unit.subscription_key)
    if any(own) and not all(own):
        raise ValidationFailed(
            "Enter the client id, the client secret and the subscription key together",
            field="client_id",
        )
    for value in own:
        if value is not None and (len(value) > MAX_CREDENTIAL or not value.isprintable()):
            raise ValidationFailed("A key is too long or holds characters no key has")


async def connect(
    session: AsyncSession,
    unit: SalesUnit,
    *,
    box: SecretBox,
    organisation_id: int | None = None,
) -> ProviderConnection:
    """Store (or replace) the organisation's connection (default: the session's), unchecked:
    the caller checks it live and registers its webhook. Its webhook URL's token is kept
    across a replacement (so a registration already at the provider stays valid)."""
    _check(unit)
    organisation_id = organisation_id or organisation_of(session.sync_session)
    connection = await current(session, organisation_id=organisation_id)
    if connection is None:
        connection = ProviderConnection(
            organisation_id=organisation_id,
            provider=PROVIDER,
            webhook_token=random_token(24),
        )
        session.add(connection)
    own = unit.client_id is not None
    connection.mode = unit.mode
    connection.market = unit.market
    connection.merchant_serial_number = unit.merchant_serial_number
    connection.client_id = unit.client_id.strip() if unit.client_id else None
    connection.client_secret_encrypted = box.seal(unit.client_secret or "") if own else None
    connection.subscription_key_encrypted = box.seal(unit.subscription_key or "") if own else None
    connection.status = "unchecked"
    connection.checked_at = None
    connection.last_error = None
    await session.flush()
    return connection


async def current(
    session: AsyncSession, *, organisation_id: int | None = None
) -> ProviderConnection | None:
    """The organisation's connection (default: the session's), if it has one."""
    organisation_id = organisation_id or organisation_of(session.sync_session)
    found = await session.scalars(
        select(ProviderConnection).where(
            ProviderConnection.provider == PROVIDER,
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


async def unchecked(session: AsyncSession, *, mode: str) -> list[int]:
    """The organisations whose connection in `mode` was never checked (acting for all)."""
    found = await session.scalars(
        select(ProviderConnection.organisation_id).where(
            ProviderConnection.mode == mode, ProviderConnection.status == "unchecked"
        )
    )
    return list(found)


async def mark_checked(
    session: AsyncSession, connection: ProviderConnection, *, error: str | None
) -> None:
    connection.status = "failing" if error else "connected"
    connection.checked_at = utcnow()
    connection.last_error = error[:500] if error else None
    await session.flush()


def opened(connection: ProviderConnection, box: SecretBox) -> Opened:
    def unseal(value: str | None) -> str | None:
        return box.open(value) if value is not None else None

    return Opened(
        id=connection.id,
        organisation_id=connection.organisation_id,
        mode=connection.mode,
        market=connection.market,
        merchant_serial_number=connection.merchant_serial_number,
        webhook_token=connection.webhook_token,
        client_id=connection.client_id,
        client_secret=unseal(connection.client_secret_encrypted),
        subscription_key=unseal(connection.subscription_key_encrypted),
    )
