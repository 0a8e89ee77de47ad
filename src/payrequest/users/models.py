"""Staff accounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, String, false
from sqlalchemy.orm import Mapped, mapped_column

from payrequest.db.base import Base
from payrequest.db.types import UTCDateTime, created_at_column, sql_in

LOCALES = ("nb", "da", "en")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(sql_in("locale", LOCALES), name="locale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str] = mapped_column(String(5), default="nb")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Runs the installation itself: sees every organisation's overview, may suspend one.
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = created_at_column()
    # When the person proved the email is theirs (a sign-up's link, an invitation's password,
    # an account made on the command line); a sign-up cannot sign in before.
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
