"""The transactional outbox: domain events written in the same transaction as the change, and
the bookkeeping of the consumers that record what they have handled in tables (`consumers`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from payrequest.db.base import Base
from payrequest.db.scope import OrganisationOwned
from payrequest.db.types import UTCDateTime, created_at_column, updated_at_column


class OutboxEvent(OrganisationOwned, Base):
    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_dispatched_at_id", "dispatched_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))  # payment_request.paid, invoice.paid, ...
    aggregate_type: Mapped[str] = mapped_column(String(32))
    aggregate_id: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = created_at_column()
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OutboxConsumer(Base):
    """How far one consumer of the outbox has got (docs/webhooks.md, "One outbox, several
    consumers"): every event with an id up to `position` is handled; past it, the receipts say
    which are. The installation's bookkeeping (it names ids only), not a business's."""

    __tablename__ = "outbox_consumers"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = updated_at_column()


class OutboxReceipt(Base):
    """One event past its consumer's position that the consumer has handled."""

    __tablename__ = "outbox_receipts"

    consumer: Mapped[str] = mapped_column(String(32), primary_key=True)
    outbox_event_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime())
