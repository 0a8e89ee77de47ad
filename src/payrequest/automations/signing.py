"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

Headers on every delivery:

- `webhook-id`: stable per message — the same on every retry, so receivers deduplicate on it
- `webhook-timestamp`: Unix seconds of this attempt
- `webhook-signature`: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`

The secret is shown to staff as `whsec_<base64 of the key bytes>`; the HMAC key is those bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_BYTES = 24


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id=msg_id, timestamp=timestamp, body=body),
        "content-type": "application/json",
    }


def verify(secret: str, *, msg_id: str, timestamp: str, body: bytes, signature: str) -> bool:
    """True if any `v1,` signature in the (space separated) header matches."""
    expected = sign(secret, msg_id=msg_id, timestamp=int(timestamp), body=body)
    return any(hmac.compare_digest(expected, given) for given in signature.split())
