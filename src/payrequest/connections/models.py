"""One organisation's connection to a payment provider (today: its Vipps MobilePay sales unit)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from payrequest.db.base import Base
from payrequest.db.scope import OrganisationOwned
from payrequest.db.types import UTCDateTime, created_at_column, sql_in, updated_at_column

MODES = ("sandbox", "test", "production")  # the emulator, the provider's test or live API
STATUSES = ("unchecked", "connected", "failing")
MARKETS = ("NO", "DK", "FI")


class ProviderConnection(OrganisationOwned, Base):
    """The credentials are sealed with the installation's key (kit.crypto.SecretBox) and never
    shown back; in platform mode (the installation's partner keys) only the MSN is the
    organisation's own and the credential columns stay empty."""

    __tablename__ = "provider_connections"
    __table_args__ = (
        UniqueConstraint("organisation_id", "provider"),
        CheckConstraint(sql_in("mode", MODES), name="mode"),
        CheckConstraint(sql_in("status", STATUSES), name="status"),
        CheckConstraint(sql_in("market", MARKETS), name="market"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))  # "vipps"
    mode: Mapped[str] = mapped_column(String(16))
    market: Mapped[str] = mapped_column(String(2))
    merchant_serial_number: Mapped[str] = mapped_column(String(10))
    client_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    client_secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    subscription_key_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The last part of this connection's own webhook URL (/webhooks/vipps/<token>): random,
    # so a webhook names its connection, and is checked with that connection's secret only.
    webhook_token: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="unchecked")
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    @property
    def platform(self) -> bool:
        """Acts through the installation's partner keys (no credentials of its own)."""
        return self.client_id is None
