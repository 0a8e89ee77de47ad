"""The fake provider's webhooks: the body it sends, how it signs it, how a receiver checks it.

A webhook is one event of a payment's log as JSON. It carries three headers:

- `Fake-Webhook-Id`: the registration it was sent for;
- `Fake-Content-SHA256`: the hex SHA-256 of the body (anyone can compute it: it only tells a
  damaged or altered body apart from a wrong secret);
- `Fake-Signature`: `v1=` and the hex HMAC-SHA256 of the body, keyed by the UTF-8 bytes of the
  registration's secret.

Checking mirrors the neutral errors: a missing header or a body that does not match its hash is
`WebhookRejected`; a whole webhook signed with none of the secrets we hold is
`WebhookSecretUnknown`; an authentic body that is not an event is `WebhookUnreadable`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payrequest.kit.money import Money
from payrequest.providers.base import (
    EventName,
    ProviderEvent,
    WebhookRejected,
    WebhookSecretUnknown,
    WebhookUnreadable,
)

ID_HEADER = "Fake-Webhook-Id"
HASH_HEADER = "Fake-Content-SHA256"
SIGNATURE_HEADER = "Fake-Signature"
SCHEME = "v1="


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook as it would go over the wire."""

    endpoint_id: str
    url: str
    reference: str
    body: bytes
    headers: dict[str, str]


def event_body(event: ProviderEvent, provider_reference: str) -> bytes:
    data: dict[str, Any] = {
        "merchant": event.merchant_id,
        "reference": event.reference,
        "providerReference": provider_reference,
        "event": event.name.value,
        "pspReference": event.psp_reference,
        "amount": {"currency": event.amount.currency, "value": event.amount.amount},
        "occurredAt": event.occurred_at.isoformat(),
        "success": event.success,
        "idempotencyKey": event.idempotency_key,
    }
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8")


def signature(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"{SCHEME}{digest}"


def signed_headers(endpoint_id: str, secret: str, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        ID_HEADER: endpoint_id,
        HASH_HEADER: hashlib.sha256(body).hexdigest(),
        SIGNATURE_HEADER: signature(secret, body),
    }


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("ascii"))


def verify(body: bytes, headers: Mapping[str, str], secrets: Sequence[str]) -> None:
    lowered = {name.lower(): value for name, value in headers.items()}
    given = lowered.get(SIGNATURE_HEADER.lower())
    claimed = lowered.get(HASH_HEADER.lower())
    if not given or not claimed:
        raise WebhookRejected("missing signature headers")
    if not _same(claimed, hashlib.sha256(body).hexdigest()):
        raise WebhookRejected("body does not match its content hash")
    if not any(_same(given, signature(secret, body)) for secret in secrets):
        raise WebhookSecretUnknown("signature does not match")


def read(body: bytes) -> ProviderEvent:
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise TypeError(f"a JSON {type(data).__name__}, not an object")
        amount = data["amount"]
        value = amount["value"]
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"amount value is not an integer: {value!r}")
        occurred = datetime.fromisoformat(str(data["occurredAt"]))
        if occurred.tzinfo is None:
            raise ValueError("occurredAt has no time zone")
        key = data.get("idempotencyKey")
        merchant = data.get("merchant")
        return ProviderEvent(
            reference=str(data["reference"]),
            name=EventName(str(data["event"])),
            psp_reference=str(data["pspReference"]),
            amount=Money(value, str(amount["currency"])),
            occurred_at=occurred,
            success=bool(data.get("success", True)),
            idempotency_key=str(key) if key is not None else None,
            merchant_id=str(merchant) if merchant is not None else None,
        )
    except Exception as exc:  # any shape we cannot read; never applied
        raise WebhookUnreadable(f"unreadable webhook body: {exc}") from exc
