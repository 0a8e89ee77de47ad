"""The webhook inbox: every verified provider event, stored before it is applied."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from payrequest.db.base import Base
from payrequest.db.scope import OrganisationOwned
from payrequest.db.types import UTCDateTime, created_at_column, sql_in

# unusable: authentic (signed) but not an event we can read; kept, answered 2xx, shown to operators.
INBOX_STATUSES = ("received", "applied", "unmatched", "failed", "unusable")


class InboundEvent(OrganisationOwned, Base):
    __tablename__ = "inbound_events"
    organisation_optional = True
    __table_args__ = (
        UniqueConstraint("provider", "dedupe_key"),
        CheckConstraint(sql_in("status", INBOX_STATUSES), name="status"),
        Index("ix_inbound_events_status_received_at", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    # ProviderEvent.dedupe_key: the provider's event id, or what the event is about.
    dedupe_key: Mapped[str] = mapped_column(String(255))
    reference: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    event_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="received")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[datetime] = created_at_column()
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
