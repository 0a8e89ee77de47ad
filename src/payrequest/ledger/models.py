"""Allocations (money applied to an invoice) and credits (money held for a customer)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from payrequest.db.base import Base
from payrequest.db.types import created_at_column, currency_column


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

    Exactly one source: a payment request or a credit. The composite foreign key on
    (invoice_id, currency) makes a currency mix impossible in the database itself.
    """

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "(payment_request_id IS NULL) <> (credit_id IS NULL)", name="exactly_one_source"
        ),
        UniqueConstraint("payment_request_id", "invoice_id"),
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
    created_at: Mapped[datetime] = created_at_column()
