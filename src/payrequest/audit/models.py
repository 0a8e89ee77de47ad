"""One row per thing a person did that an owner may later ask about."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from payrequest.db.base import Base
from payrequest.db.scope import OrganisationOwned
from payrequest.db.types import created_at_column


class AuditEntry(OrganisationOwned, Base):
    __tablename__ = "audit_log"
    organisation_optional = True
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = created_at_column()
    # Who: a staff member (NULL for the system, a customer or a sign-in that failed).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(64))  # e.g. "payment_request.cancel"
    subject_type: Mapped[str | None] = mapped_column(String(32), nullable=True)  # "invoice"
    subject_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # What changed, in plain values (never a password, a token or a full card number).
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)  # client IP
