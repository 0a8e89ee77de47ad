"""Allocations (money applied to an invoice) and credits (money held for a customer)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from payrequest.db.base import Base
from payrequest.db.types import UTCDateTime, created_at_column, currency_column, sql_in


class Credit(Base):
    """Money a customer has with us: an overpayment, or a manual credit."""

    __tablename__ = "credits"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        # One overpayment credit per payment request, however often the capture is applied.
        UniqueConstraint("payment_request_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    currency: Mapped[str] = currency_column()
    amount: Mapped[int] = mapped_column(BigInteger)
    payment_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_requests.id"), nullable=True
    )
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at_column()


class Allocation(Base):
    """Part of a captured payment (or of a credit) applied to one invoice.

    Exactly one source: a payment request or a credit. A refund reverses allocations with
    negative rows that name the refund; rows are never updated or deleted. The composite
    foreign key on (invoice_id, currency) makes a currency mix impossible in the database.
    """

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint(
            "(refund_id IS NULL AND amount > 0) OR (refund_id IS NOT NULL AND amount < 0)",
            name="sign_matches_kind",
        ),
        CheckConstraint(
            "(payment_request_id IS NULL) <> (credit_id IS NULL)", name="exactly_one_source"
        ),
        # One allocation per request and invoice, however often a capture is applied.
        Index(
            "uq_allocations_one_per_request_invoice",
            "payment_request_id",
            "invoice_id",
            unique=True,
            sqlite_where=text("refund_id IS NULL"),
            postgresql_where=text("refund_id IS NULL"),
        ),
        UniqueConstraint("refund_id", "invoice_id"),
        ForeignKeyConstraint(["invoice_id", "currency"], ["invoices.id", "invoices.currency"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(Integer, index=True)
    currency: Mapped[str] = currency_column()
    amount: Mapped[int] = mapped_column(BigInteger)
    payment_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_requests.id"), nullable=True, index=True
    )
    credit_id: Mapped[int | None] = mapped_column(
        ForeignKey("credits.id"), nullable=True, index=True
    )
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"), nullable=True)
    created_at: Mapped[datetime] = created_at_column()


REFUND_STATUSES = ("pending", "succeeded", "failed")


class Refund(Base):
    """Money sent back to the customer through the provider, from a paid request or a credit.

    `credit_amount` is the part taken from customer credit; the rest reverses allocations.
    """

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("credit_amount >= 0 AND credit_amount <= amount", name="credit_part"),
        CheckConstraint(sql_in("status", REFUND_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_request_id: Mapped[int] = mapped_column(ForeignKey("payment_requests.id"), index=True)
    credit_id: Mapped[int | None] = mapped_column(ForeignKey("credits.id"), nullable=True)
    currency: Mapped[str] = currency_column()
    amount: Mapped[int] = mapped_column(BigInteger)
    credit_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    idempotency_key: Mapped[str] = mapped_column(String(50), unique=True)
    reason: Mapped[str] = mapped_column(String(200))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    failure_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = created_at_column()
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
