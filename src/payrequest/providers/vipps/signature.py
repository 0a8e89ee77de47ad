"""Webhook authentication: HMAC-SHA256 over method, path+query, date, host and body hash.

The exact scheme is in docs/vipps.md#webhook-signatures. The URL is the *registered* public URL,
never the one a proxy forwarded; the secret is used as UTF-8 bytes, never base64-decoded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from payrequest.providers.base import WebhookRejected, WebhookSecretUnknown

SIGNED_HEADERS = "x-ms-date;host;x-ms-content-sha256"
MAX_CLOCK_SKEW_SECONDS = 300


def content_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def url_parts(url: str) -> tuple[str, str]:
    """(path_and_query, host) of a URL, as the signature uses them."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    default_port = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if parts.port and parts.port != default_port:
        host = f"{host}:{parts.port}"
    return path, host


def string_to_sign(url: str, date: str, body_hash: str) -> str:
    path, host = url_parts(url)
    return f"POST\n{path}\n{date};{host};{body_hash}"


def authorization(secret: str, url: str, date: str, body: bytes) -> str:
    message = string_to_sign(url, date, content_hash(body)).encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    signature = base64.b64encode(digest).decode("ascii")
    return f"HMAC-SHA256 SignedHeaders={SIGNED_HEADERS}&Signature={signature}"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered.get(name.lower())


def _same(given: str, expected: str) -> bool:
    # Constant-time; as bytes, since compare_digest raises TypeError on non-ASCII str.
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("ascii"))


def verify(
    *,
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    secrets: Sequence[str],
    now: datetime | None = None,
) -> None:
    """Raise WebhookRejected unless the request was signed by one of `secrets` for `url`:
    WebhookSecretUnknown when only the signature is wrong (the headers are all there, the body
    matches its hash, the date is recent), as with another registration's secret."""
    # Some servers strip `Authorization`; Vipps sends the same value as X-Vipps-Authorization.
    given = [
        value
        for value in (_header(headers, "Authorization"), _header(headers, "X-Vipps-Authorization"))
        if value
    ]
    date = _header(headers, "x-ms-date")
    claimed_hash = _header(headers, "x-ms-content-sha256")
    if not given or not date or not claimed_hash:
        raise WebhookRejected("missing signature headers")
    if not _same(claimed_hash, content_hash(body)):
        raise WebhookRejected("body does not match x-ms-content-sha256")
    if now is not None:
        try:
            sent = parsedate_to_datetime(date)
        except (TypeError, ValueError) as exc:
            raise WebhookRejected("x-ms-date is not an RFC 1123 date") from exc
        if sent.tzinfo is None:  # RFC 2822 "-0000": UTC, zone of origin unknown
            sent = sent.replace(tzinfo=UTC)
        if abs((now - sent).total_seconds()) > MAX_CLOCK_SKEW_SECONDS:
            raise WebhookRejected("x-ms-date is too far from now")
    for secret in secrets:
        expected = authorization(secret, url, date, body)
        if any(_same(value, expected) for value in given):
            return
    raise WebhookSecretUnknown("signature does not match")
