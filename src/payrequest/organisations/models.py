"""An organisation (one business and its settings) and the memberships of staff in it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from payrequest.db.base import Base
from payrequest.db.types import created_at_column, sql_in
from payrequest.kit.markets import currency_of

MARKETS = ("NO", "DK", "FI")
LOCALES = ("nb", "da", "en")
ROLES = ("owner", "staff", "readonly")  # a membership's role; `readonly` may only look
STATUSES = ("active", "suspended")
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"


class Organisation(Base):
    """One business: its identity on receipts, its portal's look, its settings."""

    __tablename__ = "organisations"
    __table_args__ = (
        CheckConstraint(sql_in("market", MARKETS), name="market"),
        CheckConstraint(sql_in("default_locale", LOCALES), name="default_locale"),
        CheckConstraint(sql_in("status", STATUSES), name="status"),
        CheckConstraint("request_lifetime_minutes BETWEEN 10 AND 86400", name="lifetime"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)  # in URLs and `--org`
    name: Mapped[str] = mapped_column(String(100))
    organisation_number: Mapped[str] = mapped_column(String(30), default="")
    market: Mapped[str] = mapped_column(String(2), default="NO")
    default_locale: Mapped[str] = mapped_column(String(5), default="nb")
    address: Mapped[str] = mapped_column(String(200), default="")  # one line, for receipts
    # The portal's look and the sender of its SMS (None: the installation's).
    logo_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    brand_colour: Mapped[str | None] = mapped_column(String(7), nullable=True)  # "#1a6e4f"
    sms_sender: Mapped[str | None] = mapped_column(String(11), nullable=True)
    # Settings that were the installation's before organisations existed.
    request_lifetime_minutes: Mapped[int] = mapped_column(Integer, default=60 * 24)
    long_living_approved: Mapped[bool] = mapped_column(Boolean, default=False)
    portal_partial_payments: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_apply_credit: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = created_at_column()

    @property
    def currency(self) -> str:
        """The currency of the organisation's market (kit.markets has the table)."""
        return currency_of(self.market)


class Membership(Base):
    """A person's role in one organisation; a person may belong to several."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "organisation_id"),
        CheckConstraint(sql_in("role", ROLES), name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    # Deactivated in this organisation (kept for the audit trail); the person may still work
    # for another.
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_at_column()
