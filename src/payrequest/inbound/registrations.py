"""Webhook registrations at the provider, with their secrets stored encrypted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from payrequest.db.base import Base
from payrequest.db.types import UTCDateTime, created_at_column
from payrequest.kit.clock import utcnow
from payrequest.kit.crypto import SecretBox


class WebhookRegistration(Base):
    __tablename__ = "webhook_registrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    merchant_id: Mapped[str] = mapped_column(String(32))  # Vipps: the MSN
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The organisation's connection this registration belongs to (None: the installation's
    # own, from the environment).
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("provider_connections.id"), nullable=True, index=True
    )


async def active(
    session: AsyncSession,
    *,
    provider: str,
    merchant_id: str | None = None,
    connection_id: int | None = None,
) -> list[WebhookRegistration]:
    """The registrations in use of one connection (`connection_id`; None: the installation's
    own, from the environment). One connection's are never another's: a webhook is checked
    against the secrets of the connection whose URL it came to, and no other."""
    stmt = select(WebhookRegistration).where(
        WebhookRegistration.provider == provider,
        WebhookRegistration.removed_at.is_(None),
        WebhookRegistration.connection_id.is_not_distinct_from(connection_id),
    )
    if merchant_id is not None:
        stmt = stmt.where(WebhookRegistration.merchant_id == merchant_id)
    return list((await session.execute(stmt.order_by(WebhookRegistration.id))).scalars())


async def secrets(
    session: AsyncSession, *, provider: str, box: SecretBox, connection_id: int | None = None
) -> list[str]:
    """Every secret a genuine webhook to this connection's URL may be signed with."""
    found = await active(session, provider=provider, connection_id=connection_id)
    return [box.open(r.secret_encrypted) for r in found]


async def add(
    session: AsyncSession,
    *,
    provider: str,
    merchant_id: str,
    external_id: str,
    url: str,
    secret: str,
    box: SecretBox,
    connection_id: int | None = None,
) -> WebhookRegistration:
    registration = WebhookRegistration(
        connection_id=connection_id,
        provider=provider,
        merchant_id=merchant_id,
        external_id=external_id,
        url=url,
        secret_encrypted=box.seal(secret),
    )
    session.add(registration)
    await session.flush()
    return registration


async def mark_removed(session: AsyncSession, registration: WebhookRegistration) -> None:
    registration.removed_at = utcnow()
    await session.flush()
