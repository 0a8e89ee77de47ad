"""Signed, expiring tokens for links handed out to people (e.g. a receipt link in an SMS).

A token is the value itself, the time it was signed and an HMAC-SHA256 of both (itsdangerous),
keyed by the app's secret key and a purpose of its own: a token made for one purpose (or a
session cookie, signed with the same secret) never passes as another. Nothing is stored;
the value must be safe to show (it is readable in the token).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

from payrequest.kit.clock import utcnow

MAX_TOKEN_LENGTH = 300


class TokenExpired(Exception):
    """The token was genuine but is older than its lifetime."""


class TokenInvalid(Exception):
    """The token was not made by us for this purpose (tampered, truncated, made up)."""


class _SignerAt(TimestampSigner):
    """itsdangerous' timestamp signer with the clock given explicitly."""

    def __init__(self, key: str, *, salt: str, at: datetime) -> None:
        super().__init__(key, salt=salt, digest_method=hashlib.sha256)
        self._at = int(at.timestamp())

    def get_timestamp(self) -> int:
        return self._at


@dataclass(frozen=True, slots=True)
class SignedValues:
    """Signs a value for one purpose; `read` gives it back while the token is young enough."""

    key: str = field(repr=False)
    purpose: str
    lifetime: timedelta

    def sign(self, value: str, *, now: datetime | None = None) -> str:
        return self._signer(now).sign(value).decode("ascii")

    def read(self, token: str, *, now: datetime | None = None) -> str:
        """The signed value; TokenExpired or TokenInvalid otherwise."""
        if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise TokenInvalid
        signer = self._signer(now)
        try:
            value = signer.unsign(token, max_age=int(self.lifetime.total_seconds()))
        except SignatureExpired as exc:
            raise TokenExpired from exc
        except BadSignature as exc:
            raise TokenInvalid from exc
        return value.decode("utf-8")

    def _signer(self, now: datetime | None) -> _SignerAt:
        if not self.key:
            raise ValueError("a signing key is needed to sign or read tokens")
        return _SignerAt(self.key, salt=f"payrequest.{self.purpose}", at=now or utcnow())
