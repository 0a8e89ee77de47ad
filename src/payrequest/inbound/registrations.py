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
    session: AsyncSession, *, provider: str, merchant_id: str | None = None
) -> list[WebhookRegistration]:
    stmt = select(WebhookRegistration).where(
        WebhookRegistration.provider == provider, WebhookRegistration.removed_at.is_(None)
    )
    if merchant_id is not None:
        stmt = stmt.where(WebhookRegistration.merchant_id == merchant_id)
    return list((await session.execute(stmt.order_by(WebhookRegistration.id))).scalars())


async def secrets(session: AsyncSession, *, provider: str, box: SecretBox) -> list[str]:
    """Every secret a genuine webhook of this provider may be signed with."""
    return [box.open(r.secret_encrypted) for r in await active(session, provider=provider)]


async def add(
    session: AsyncSession,
    *,
    provider: str,
    merchant_id: str,
    external_id: str,
    url: str,
    secret: str,
    box: SecretBox,
) -> WebhookRegistration:
    registration = WebhookRegistration(
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
