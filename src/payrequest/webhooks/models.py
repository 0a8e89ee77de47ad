"""An organisation's webhook endpoints, the events built for them, and each delivery with the
log of its attempts (docs/webhooks.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from payrequest.db.base import Base
from payrequest.db.scope import OrganisationOwned
from payrequest.db.types import UTCDateTime, created_at_column, sql_in, updated_at_column

# pending: to be tried (its turn may not have come: an earlier event of the same object to the
# same endpoint goes first); delivered: a 2xx answer came; failed: given up (3 days of tries,
# a refused URL, or the endpoint was switched off) — a person may still resend it.
DELIVERY_STATUSES = ("pending", "delivered", "failed")
DISABLED_REASONS = ("failing",)  # switched off by payrequest itself (None: by a person)


class WebhookEndpoint(OrganisationOwned, Base):
    """Where an organisation wants its events, which types, and the secrets that sign them.
    Secrets are sealed (kit.crypto.SecretBox) and shown once, when made. After a rotation the
    previous secret signs beside the new one until `previous_secret_until`."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint(
            "disabled_reason IS NULL OR " + sql_in("disabled_reason", DISABLED_REASONS),
            name="disabled_reason",
        ),
        CheckConstraint("consecutive_failures >= 0", name="consecutive_failures"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    secret: Mapped[str] = mapped_column(Text)  # sealed
    previous_secret: Mapped[str | None] = mapped_column(Text, nullable=True)  # sealed
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The first failed attempt since the last one that succeeded (None: the last succeeded).
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class WebhookEvent(OrganisationOwned, Base):
    """One public event, built once from one outbox event (or a test event an owner asked
    for): `body` is the exact JSON every delivery and retry of it sends."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)  # evt_...
    outbox_event_id: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    type: Mapped[str] = mapped_column(String(64))
    # The object the event is about, as the API names it: deliveries of one object to one
    # endpoint go in order.
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()


class WebhookDelivery(OrganisationOwned, Base):
    """One event to one endpoint, until it is delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(sql_in("status", DELIVERY_STATUSES), name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        UniqueConstraint("endpoint_id", "event_id"),
        # The queue of one object at one endpoint: the oldest pending delivery goes first.
        Index(
            "ix_webhook_deliveries_queue",
            "endpoint_id",
            "ordering_key",
            "id",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    # `<object type>:<object id>`; None: outside any order (a test event).
    ordering_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # automatic tries so far
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = created_at_column()


class WebhookAttempt(OrganisationOwned, Base):
    """The log of one try: when, how long, what the receiver answered (its start)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    manual: Mapped[bool] = mapped_column(Boolean, default=False)  # a resend or a test
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
