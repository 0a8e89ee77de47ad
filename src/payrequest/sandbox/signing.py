"""Webhook request signing exactly as Vipps MobilePay does it (docs/vipps.md#webhook-signatures).

string_to_sign = "POST\\n" + path_and_query + "\\n" + x-ms-date + ";" + host + ";" + hash,
signed with HMAC-SHA256 keyed by the UTF-8 bytes of the secret (never base64-decoded), where
path_and_query and host come from the *registered* URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from email.utils import formatdate
from urllib.parse import urlsplit

SIGNED_HEADERS = "x-ms-date;host;x-ms-content-sha256"
DEFAULT_PORTS = {"http": 80, "https": 443}


def content_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def url_parts(url: str) -> tuple[str, str]:
    """(path_and_query, host) of a URL; the port only when it is not the scheme's default."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host = parts.netloc.rsplit("@", 1)[-1]
    port = parts.port
    if port is not None and port == DEFAULT_PORTS.get(parts.scheme.lower()):
        host = host[: host.rfind(":")]
    return path, host


def authorization(secret: str, url: str, date: str, body: bytes) -> str:
    path_and_query, host = url_parts(url)
    to_sign = f"POST\n{path_and_query}\n{date};{host};{content_hash(body)}"
    digest = hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).digest()
    signature = base64.b64encode(digest).decode("ascii")
    return f"HMAC-SHA256 SignedHeaders={SIGNED_HEADERS}&Signature={signature}"


def http_date(epoch: float) -> str:
    """RFC 1123 date, e.g. `Thu, 30 Mar 2023 08:38:32 GMT`."""
    return formatdate(epoch, usegmt=True)


def signed_headers(
    secret: str, url: str, body: bytes, epoch: float, webhook_id: str
) -> dict[str, str]:
    date = http_date(epoch)
    auth = authorization(secret, url, date, body)
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Vipps MobilePay/1.0 Webhooks/1.0",
        "x-ms-date": date,
        "x-ms-content-sha256": content_hash(body),
        "Authorization": auth,
        "X-Vipps-Authorization": auth,
        "Webhook-Id": webhook_id,
    }
