"""Payment references: `^[a-zA-Z0-9-]{8,64}$`, unique, recognisable, a suffix per retry."""

from __future__ import annotations

import hashlib
import re
import secrets

PATTERN = re.compile(r"^[a-zA-Z0-9-]{8,64}$")
_UNSAFE = re.compile(r"[^a-zA-Z0-9]+")
MAX_LENGTH = 64


def new_reference(customer_number: str) -> str:
    """`pr-<customer number>-<random>`: readable in the provider's merchant portal, never
    guessable."""
    customer = _UNSAFE.sub("", customer_number)[:20] or "c"
    reference = f"pr-{customer}-{secrets.token_hex(5)}"
    assert PATTERN.match(reference), reference
    return reference


def retry_reference(root_reference: str, attempt: int) -> str:
    """The n-th retry of a request gets the first request's reference plus `-n`."""
    suffix = f"-{attempt}"
    reference = root_reference[: MAX_LENGTH - len(suffix)] + suffix
    if not PATTERN.match(reference):
        raise ValueError(f"cannot build a retry reference from {root_reference!r}")
    return reference


def idempotency_key(reference: str, operation: str) -> str:
    """Derived from our own ids, so every retry of an operation sends the same key (≤ 50)."""
    key = f"{operation}-{reference}"
    if len(key) <= 50:
        return key
    return f"{operation}-{hashlib.sha256(reference.encode()).hexdigest()}"[:50]
