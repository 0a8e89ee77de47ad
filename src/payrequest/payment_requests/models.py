"""Payment requests, the invoices they cover, and their timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from payrequest.db.base import Base
from payrequest.db.scope import OrganisationOwned
from payrequest.db.types import (
    StrEnumType,
    UTCDateTime,
    created_at_column,
    currency_column,
    sql_in,
    updated_at_column,
)
from payrequest.payment_requests.state import ORIGINS, USER_FLOWS, Status

STATUSES = tuple(s.value for s in Status)


class PaymentRequest(OrganisationOwned, Base):
    __tablename__ = "payment_requests"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "captured_amount >= 0 AND refunded_amount >= 0 AND refunded_amount <= captured_amount",
            name="aggregate_amounts",
        ),
        CheckConstraint(sql_in("status", STATUSES), name="status"),
        CheckConstraint(sql_in("origin", ORIGINS), name="origin"),
        CheckConstraint(sql_in("user_flow", USER_FLOWS), name="user_flow"),
        CheckConstraint("attempt >= 0", name="attempt_not_negative"),
        UniqueConstraint("id", "currency", name="uq_payment_requests_id_currency"),
        UniqueConstraint("provider", "provider_reference"),
        Index("ix_payment_requests_status_next_poll_at", "status", "next_poll_at"),
        # One organisation's requests newest first, all or in one status (the list).
        Index("ix_payment_requests_organisation_id_id", "organisation_id", "id"),
        Index("ix_payment_requests_organisation_status_id", "organisation_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[str] = mapped_column(String(32), default="vipps")  # its name: providers/
    # What the provider calls the payment (Vipps: `reference`; Stripe: `cs_...`), once it
    # accepted it; every later call and webhook for the request goes by `provider`.
    provider_reference: Mapped[str | None] = mapped_column(String(255), nullable=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    currency: Mapped[str] = currency_column()
    amount: Mapped[int] = mapped_column(BigInteger)
    phone: Mapped[str | None] = mapped_column(String(16), nullable=True)  # E.164
    user_flow: Mapped[str] = mapped_column(String(16), default="push")
    description: Mapped[str] = mapped_column(String(100))
    status: Mapped[Status] = mapped_column(StrEnumType(Status, 16), default=Status.sending)
    origin: Mapped[str] = mapped_column(String(16))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    retry_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_requests.id"), nullable=True
    )
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    captured_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    # The provider's last word in the neutral vocabulary (providers.base.ProviderState).
    provider_state: Mapped[str | None] = mapped_column(String(32), nullable=True)
    redirect_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    failure_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    failure_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    share_phone: Mapped[bool] = mapped_column(default=False, server_default=false())
    save_phone: Mapped[bool] = mapped_column(default=False, server_default=false())
    payer_phone: Mapped[str | None] = mapped_column(String(16), nullable=True)  # E.164, shared
    poll_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    invoice_links: Mapped[list[PaymentRequestInvoice]] = relationship(
        back_populates="payment_request", cascade="all, delete-orphan"
    )
    timeline: Mapped[list[PaymentRequestEvent]] = relationship(
        back_populates="payment_request",
        order_by="PaymentRequestEvent.id",
        cascade="all, delete-orphan",
    )

    @property
    def key_at_provider(self) -> str:
        """What the provider's calls name the payment by: its own key once it accepted the
        payment, our reference before (a provider that keys by it finds it; another has
        none yet)."""
        return self.provider_reference or self.reference


class PaymentRequestInvoice(OrganisationOwned, Base):
    """An invoice covered by a request, with the amount planned for it.

    `active` is true while the request is sending, pending or authorized; a partial unique
    index lets each invoice be in at most one active request, in the database itself.
    """

    __tablename__ = "payment_request_invoices"
    __table_args__ = (
        CheckConstraint("planned_amount > 0", name="planned_amount_positive"),
        UniqueConstraint("payment_request_id", "invoice_id"),
        ForeignKeyConstraint(
            ["payment_request_id", "currency"],
            ["payment_requests.id", "payment_requests.currency"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(["invoice_id", "currency"], ["invoices.id", "invoices.currency"]),
        Index(
            "uq_payment_request_invoices_one_active_per_invoice",
            "invoice_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_request_id: Mapped[int] = mapped_column(Integer)
    invoice_id: Mapped[int] = mapped_column(Integer, index=True)
    currency: Mapped[str] = currency_column()
    planned_amount: Mapped[int] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(default=True)

    payment_request: Mapped[PaymentRequest] = relationship(back_populates="invoice_links")


class PaymentRequestEvent(OrganisationOwned, Base):
    """One entry of a request's timeline: a state change, a provider signal, a user action.

    A provider event is recorded once: (request, event name, provider reference) is unique.
    """

    __tablename__ = "payment_request_events"
    __table_args__ = (UniqueConstraint("payment_request_id", "provider_event", "provider_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_request_id: Mapped[int] = mapped_column(
        ForeignKey("payment_requests.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))  # state_changed, provider_signal, note
    source: Mapped[str] = mapped_column(String(16))  # webhook, poll, user, system
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    provider_event: Mapped[str | None] = mapped_column(String(64), nullable=True)
    provider_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = created_at_column()

    payment_request: Mapped[PaymentRequest] = relationship(back_populates="timeline")
