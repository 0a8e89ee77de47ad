"""Magic links to the customer portal."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from payrequest.db.base import Base
from payrequest.db.scope import OrganisationOwned
from payrequest.db.types import UTCDateTime, created_at_column


class PortalLink(OrganisationOwned, Base):
    __tablename__ = "portal_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex
    channel: Mapped[str] = mapped_column(String(16))  # sms | email | manual
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # A newer link for the same customer replaces this one (it can no longer sign in).
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
