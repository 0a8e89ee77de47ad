"""Stripe's webhook signature: `Stripe-Signature: t=<unix time>,v1=<hex>[,v1=…][,v0=…]`, an
HMAC-SHA256 of "<t>.<body>" keyed by an endpoint's whole `whsec_` secret
(docs/stripe.md#webhook-signatures).

The header is read here (is it whole, and on time?); the HMAC is checked by the SDK's
`stripe.WebhookSignature.verify_header`, once per secret we hold. During a rotation Stripe
signs with the old and the new secret (two `v1` entries), and either one matching is enough.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import stripe

from payrequest.providers.base import WebhookRejected, WebhookSecretUnknown

HEADER = "stripe-signature"
TOLERANCE = 300  # seconds a signature stays good, as the SDK's default


def header_of(headers: Mapping[str, str]) -> str | None:
    """The Stripe-Signature header, however its name is spelled."""
    for name, value in headers.items():
        if name.lower() == HEADER:
            return value
    return None


def timestamp_and_signatures(header: str) -> tuple[int | None, list[str]]:
    """The header's `t` (None if missing or not a number) and its `v1` signatures."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamp = int(value) if value.isdigit() else None
        elif key == "v1" and value:
            signatures.append(value)
    return timestamp, signatures


def verify(body: bytes, headers: Mapping[str, str], *, secrets: Sequence[str], now: float) -> None:
    """Return if one of `secrets` signed `body`; else WebhookRejected, or WebhookSecretUnknown
    when the header is whole and on time but no secret we hold matches."""
    header = header_of(headers)
    if not header:
        raise WebhookRejected("no Stripe-Signature header")
    timestamp, signatures = timestamp_and_signatures(header)
    if timestamp is None or not signatures:
        raise WebhookRejected("the Stripe-Signature header has no timestamp or no v1 signature")
    if timestamp < now - TOLERANCE:
        raise WebhookRejected(f"the Stripe-Signature timestamp {timestamp} is too old")
    for secret in secrets:
        if not secret:
            continue
        try:
            # tolerance=None: the time was checked above, against our clock.
            stripe.WebhookSignature.verify_header(body, header, secret, tolerance=None)
        except (stripe.SignatureVerificationError, UnicodeDecodeError):
            continue
        return
    raise WebhookSecretUnknown("the Stripe signature matches no secret we hold")
