"""Encrypting what is stored secret (provider and automation webhook secrets, portal-link texts)
with a key derived from settings."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    """Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from the app's secret key."""

    def __init__(self, secret_key: str, *, purpose: str = "stored-secrets") -> None:
        digest = hashlib.sha256(f"payrequest:{purpose}:{secret_key}".encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise ValueError(
                "a stored secret cannot be decrypted: was PAYREQUEST_SECRET_KEY changed?"
            ) from exc
