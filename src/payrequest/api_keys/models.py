"""API keys and idempotency records (docs/api.md, "Authentication" and "Idempotency")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from payrequest.db.base import Base
from payrequest.db.scope import OrganisationOwned
from payrequest.db.types import UTCDateTime, created_at_column, sql_in
from payrequest.kit.clock import utcnow

SCOPES = ("read", "write")


class ApiKey(OrganisationOwned, Base):
    """A key an owner made for the business's own systems. The key itself is shown once, when
    it is made; what stays is its first characters (`prefix`, to tell keys apart) and its
    SHA-256. A plain, unsalted hash is right here: the key is 32 random bytes, not a password a
    person chose, so nobody can guess it from its hash by trying likely keys, and a fast hash
    lets every API request find its key with one indexed lookup."""

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(sql_in("scope", SCOPES), name="scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))  # `prk_` and the first 8 secret characters
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the key
    scope: Mapped[str] = mapped_column(String(8))  # read: GET only; write: everything
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = created_at_column()
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class IdempotentRequest(OrganisationOwned, Base):
    """A POST made with an `Idempotency-Key`, and what it answered (None while it runs). Kept
    24 hours: a retry with the same key and body gets the same answer, one with another body a
    conflict."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("api_key_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 hex of the request body
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
