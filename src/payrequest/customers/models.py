"""Customers of the business: who gets invoices and payment requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from payrequest.db.base import Base
from payrequest.db.types import created_at_column, sql_in, updated_at_column
from payrequest.kit.markets import COUNTRIES


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint(sql_in("country", COUNTRIES), name="country"),
        CheckConstraint("phone IS NULL OR phone LIKE '+%'", name="phone_e164"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(16), nullable=True)  # E.164
    country: Mapped[str] = mapped_column(String(2), default="NO")
    locale: Mapped[str] = mapped_column(String(5), default="nb")
    portal_access: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
