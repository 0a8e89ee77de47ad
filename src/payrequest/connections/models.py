"""One organisation's connection to a payment provider: its account there (providers.accounts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from payrequest.db.base import Base
from payrequest.db.scope import OrganisationOwned
from payrequest.db.types import UTCDateTime, created_at_column, sql_in, updated_at_column

MODES = ("sandbox", "test", "production")  # the emulator, the provider's test or live API
STATUSES = ("unchecked", "connected", "failing")


class ProviderConnection(OrganisationOwned, Base):
    """At most one per organisation and provider. What `account`, `details` and `sealed` hold
    is the provider's own (providers/<name>/account.py); the secrets in `sealed` are sealed
    one by one with the installation's key (kit.crypto.SecretBox) and never shown back. No
    secrets at all: the account acts through the installation's platform keys."""

    __tablename__ = "provider_connections"
    __table_args__ = (
        UniqueConstraint("organisation_id", "provider"),
        CheckConstraint(sql_in("mode", MODES), name="mode"),
        CheckConstraint(sql_in("status", STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))  # "vipps", "stripe"
    mode: Mapped[str] = mapped_column(String(16))
    # The provider's public name of the account (a merchant serial number, an account id).
    account: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # not secret
    sealed: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # name -> sealed secret
    # The last part of this connection's own webhook URL (/webhooks/<provider>/<token>): random,
    # so a webhook names its connection, and is checked with that connection's secret only.
    webhook_token: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="unchecked")
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    @property
    def platform(self) -> bool:
        """Acts through the installation's platform keys (no secrets of its own)."""
        return not self.sealed
