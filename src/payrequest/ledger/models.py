"""Allocations (money applied to an invoice), credits (money held for a customer), refunds,
and manual payments (money that arrived outside the provider)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
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
from sqlalchemy.orm import Mapped, mapped_column

from payrequest.db.base import Base
from payrequest.db.scope import OrganisationOwned
from payrequest.db.types import UTCDateTime, created_at_column, currency_column, sql_in

MANUAL_METHODS = ("bank_transfer", "cash", "card", "other")


class ManualPayment(OrganisationOwned, Base):
    """Money a customer paid outside the provider (a bank transfer, cash), recorded by staff.

    It is allocated like a captured payment (oldest due first, the rest becomes credit). Undoing
    it keeps the row (`undone_at`) and takes the money back with reversal allocations.
    """

    __tablename__ = "manual_payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(sql_in("method", MANUAL_METHODS), name="method"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    currency: Mapped[str] = currency_column()
    amount: Mapped[int] = mapped_column(BigInteger)
    received_on: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(100), nullable=True)  # bank ref, KID
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = created_at_column()
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    undone_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    undo_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Credit(OrganisationOwned, Base):
    """Money a customer has with us: an overpayment of a request or of a manual payment.

    A voided credit (its manual payment was undone) no longer counts.
    """

    __tablename__ = "credits"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        # One overpayment credit per payment request, however often the capture is applied.
        UniqueConstraint("payment_request_id"),
        UniqueConstraint("manual_payment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    currency: Mapped[str] = currency_column()
    amount: Mapped[int] = mapped_column(BigInteger)
    payment_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_requests.id"), nullable=True
    )
    manual_payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("manual_payments.id"), nullable=True
    )
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at_column()
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Allocation(OrganisationOwned, Base):
    """Part of a payment applied to one invoice.

    Exactly one source: a payment request, a credit or a manual payment. Rows are never
    updated or deleted: money is taken back by a negative `reversal` row of the same source (a
    refund's also names the refund). The reversal of a credit application or of a manual
    payment's allocation names the row it takes back (`reverses_allocation_id`, unique: a row
    is taken back at most once); the commands that write it keep it on the same source and
    invoice. The composite foreign key on (invoice_id, currency) makes a currency mix
    impossible in the database.
    """

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint(
            "(reversal AND amount < 0) OR (NOT reversal AND amount > 0 AND refund_id IS NULL)",
            name="sign_matches_kind",
        ),
        CheckConstraint(
            "(CASE WHEN payment_request_id IS NULL THEN 0 ELSE 1 END"
            " + CASE WHEN credit_id IS NULL THEN 0 ELSE 1 END"
            " + CASE WHEN manual_payment_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="exactly_one_source",
        ),
        # Only a reversal takes a row back; a refund's reversals name the refund instead.
        CheckConstraint(
            "reverses_allocation_id IS NULL OR (reversal AND refund_id IS NULL)",
            name="takes_back_as_reversal",
        ),
        UniqueConstraint("reverses_allocation_id"),
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
        # One allocation and at most one reversal per manual payment and invoice.
        UniqueConstraint("manual_payment_id", "invoice_id", "reversal"),
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
    manual_payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("manual_payments.id"), nullable=True, index=True
    )
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"), nullable=True)
    reversal: Mapped[bool] = mapped_column(default=False, server_default=false())
    reverses_allocation_id: Mapped[int | None] = mapped_column(
        ForeignKey("allocations.id"), nullable=True
    )
    # Who applied the credit (an application) or took it back (its reversal). None: applied
    # automatically, or written before this was kept; other rows' people are on their source
    # (manual_payments, refunds).
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)  # why taken back
    created_at: Mapped[datetime] = created_at_column()


REFUND_STATUSES = ("pending", "succeeded", "failed")


class Refund(OrganisationOwned, Base):
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
