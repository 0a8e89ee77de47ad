"""JWT-shaped access tokens, signed with an HMAC key kept in the emulator's state.

The real token is an RS256 JWT of well over 1,000 characters, most of it the 256-byte RSA
signature. Clients only need three base64url parts and a readable `exp` claim, but they must
also keep the whole token: storage sized for a short one is a production bug. So the signature
here is as long as the real one: 256 bytes, eight chained HMAC-SHA256 blocks over the signed
part (no RSA key to generate per emulator), and the claims are the real token's kind (see
`api_token`).
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


SIGNATURE_BLOCKS = 8  # x 32 bytes = 256 bytes, the size of an RS256 signature (2048-bit key)


def _signature(key: bytes, signing_input: str) -> bytes:
    blocks, previous = [], b""
    for number in range(SIGNATURE_BLOCKS):
        message = previous + bytes([number]) + signing_input.encode("ascii")
        previous = hmac.new(key, message, hashlib.sha256).digest()
        blocks.append(previous)
    return b"".join(blocks)


def issue_token(key: bytes, claims: dict[str, Any], key_id: str = "") -> str:
    header = {"typ": "JWT", "alg": "HS256", "kid": key_id}
    body = dict(claims)
    body.setdefault("jti", secrets.token_hex(16))
    signing_input = _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(body).encode())
    return signing_input + "." + _b64url(_signature(key, signing_input))


def read_token(key: bytes, token: str, now: int) -> dict[str, Any] | None:
    """The claims of a valid, unexpired token this key signed; None otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    signing_input = parts[0] + "." + parts[1]
    expected = _signature(key, signing_input)
    try:
        if not hmac.compare_digest(expected, _unb64url(parts[2])):
            return None
        claims: dict[str, Any] = json.loads(_unb64url(parts[1]))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
        return None
    return claims
