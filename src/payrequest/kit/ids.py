"""Identifiers and secrets."""

from __future__ import annotations

import secrets
import uuid


def new_uuid() -> str:
    return str(uuid.uuid4())


def random_token(num_bytes: int = 32) -> str:
    """URL-safe random token; 32 bytes = 256 bits."""
    return secrets.token_urlsafe(num_bytes)
