"""JWT-shaped access tokens, HMAC-SHA256 signed with a key kept in the emulator's state.

The real token is an RS256 JWT of 1000+ characters; clients only need three base64url parts
and a readable `exp` claim, so an HS256 token is enough to exercise their caching.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(key: bytes, claims: dict[str, Any]) -> str:
    header = {"typ": "JWT", "alg": "HS256"}
    body = dict(claims)
    body.setdefault("jti", secrets.token_hex(16))
    signing_input = _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(body).encode())
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64url(signature)


def read_token(key: bytes, token: str, now: int) -> dict[str, Any] | None:
    """The claims of a valid, unexpired token this key signed; None otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    signing_input = parts[0] + "." + parts[1]
    expected = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(expected, _unb64url(parts[2])):
            return None
        claims: dict[str, Any] = json.loads(_unb64url(parts[1]))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
        return None
    return claims
