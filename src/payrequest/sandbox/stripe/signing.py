"""The `Stripe-Signature` header, made exactly as Stripe makes it (docs/stripe.md#webhooks).

`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, keyed by the whole endpoint secret
(`whsec_...`, as UTF-8, not decoded). Like test-mode Stripe a `v0` signature with a secret no
receiver knows is added, so a verifier that trusts anything but `v1` is caught.
"""

from __future__ import annotations

import hashlib
import hmac

UNKNOWN_SCHEME_KEY = b"stripe-emulator-v0"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    v0 = hmac.new(UNKNOWN_SCHEME_KEY, body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature(secret, timestamp, body)},v0={v0}"
