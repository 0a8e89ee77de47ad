"""One row per sign-in: a staff member's or a portal customer's."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from payrequest.db.base import Base
from payrequest.db.types import UTCDateTime, created_at_column, sql_in

SESSION_KINDS = ("staff", "portal")
# Why a session ended before its time (NULL while it lasts).
END_REASONS = ("signed_out", "password_changed", "deactivated", "replaced", "revoked")
WHO = (
    "(kind = 'staff' AND user_id IS NOT NULL AND customer_id IS NULL)"
    " OR (kind = 'portal' AND customer_id IS NOT NULL AND user_id IS NULL)"
)


class SignInSession(Base):
    __tablename__ = "sign_in_sessions"
    __table_args__ = (
        CheckConstraint(sql_in("kind", SESSION_KINDS), name="kind"),
        CheckConstraint(sql_in("end_reason", END_REASONS), name="end_reason"),
        CheckConstraint(WHO, name="who"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 hex of the random token the cookie carries; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id"), nullable=True, index=True
    )
    # The organisation the person works in now (staff: switched in the header; portal: the
    # customer's own). Read by its token before any organisation is known, so not scoped.
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(24), nullable=True)
