"""Delivering a signed webhook over HTTP (the only module of `automations` that imports httpx;
see the import-linter contract in pyproject.toml)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from payrequest.automations import signing
from payrequest.automations.destinations import check_url
from payrequest.errors import ValidationFailed
from payrequest.kit.clock import utcnow
from payrequest.notify.errors import NotifyError

TIMEOUT = 10.0


class WebhookError(NotifyError):
    """A webhook delivery failed. See `NotifyError` for the flags."""


@dataclass(frozen=True, slots=True)
class WebhookReceipt:
    status_code: int
    msg_id: str
    body: str  # the first few hundred characters of the answer


class WebhookSender:
    def __init__(
        self, *, allow: Iterable[str] = (), transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.allow = tuple(allow)
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(TIMEOUT), transport=transport, follow_redirects=False
        )

    async def send(self, *, url: str, body: str, secret: str, msg_id: str) -> WebhookReceipt:
        try:
            await check_url(url, allow=self.allow)  # again: DNS may have changed since saving
        except ValidationFailed as exc:
            raise WebhookError(exc.message, False) from None
        raw = body.encode("utf-8")
        headers = signing.headers(
            secret, msg_id=msg_id, timestamp=int(utcnow().timestamp()), body=raw
        )
        headers["user-agent"] = "payrequest-webhooks/1"
        try:
            response = await self._http.post(url, content=raw, headers=headers)
        except httpx.TimeoutException as exc:
            raise WebhookError(f"{url}: timed out ({exc})", True, maybe_sent=True) from exc
        except httpx.HTTPError as exc:
            raise WebhookError(f"{url}: {type(exc).__name__}: {exc}", True) from exc
        if 200 <= response.status_code < 300:
            return WebhookReceipt(response.status_code, msg_id, response.text[:300])
        retryable = response.status_code in (408, 409, 425, 429) or response.status_code >= 500
        raise WebhookError(
            f"{url} answered {response.status_code}: {response.text[:200]}",
            retryable,
            maybe_sent=True,
        )

    async def close(self) -> None:
        await self._http.aclose()
