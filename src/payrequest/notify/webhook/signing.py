"""Standard Webhooks signatures (docs/webhooks.md, "Signatures"), made with the
`standardwebhooks` reference library.

Headers on every delivery:

- `webhook-id`: stable per message — the same on every retry, so receivers deduplicate on it
- `webhook-timestamp`: Unix seconds of this attempt
- `webhook-signature`: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one per secret,
  separated by spaces (while a rotated secret still signs beside the new one)

A secret is shown as `whsec_<base64 of the key bytes>`; the HMAC key is those bytes.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_BYTES = 24


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def sign(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<signature>` of one message with one secret."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    signature: str = Webhook(secret).sign(msg_id, moment, body.decode("utf-8"))
    return signature


def headers(
    secret: str | Sequence[str], *, msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The request headers; `secret` may be several (each one signs, in order)."""
    keys = [secret] if isinstance(secret, str) else list(secret)
    if not keys:
        raise ValueError("a webhook needs at least one secret to sign with")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            sign(key, msg_id=msg_id, timestamp=timestamp, body=body) for key in keys
        ),
        "content-type": "application/json",
    }


def verify(secret: str, *, msg_id: str, timestamp: str, body: bytes, signature: str) -> bool:
    """True if any `v1,` signature in the (space separated) header matches. No timestamp
    tolerance here: a receiver checks that too (docs/webhooks.md)."""
    expected = sign(secret, msg_id=msg_id, timestamp=int(timestamp), body=body)
    return any(hmac.compare_digest(expected, given) for given in signature.split())
