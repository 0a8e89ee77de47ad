"""One row per counted hit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from payrequest.db.base import Base
from payrequest.db.types import created_at_column


class RateLimitHit(Base):
    __tablename__ = "rate_limit_hits"
    __table_args__ = (
        Index("ix_rate_limit_hits_key_created_at", "key", "created_at"),
        Index("ix_rate_limit_hits_created_at", "created_at"),  # the purge
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))  # e.g. "login:ip:203.0.113.5"
    # The business whose bucket this is (its keys start "org<id>:"); None: the installation's
    # (sign-ins, webhooks, anything counted before anyone is known).
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = created_at_column()
