"""HTTP client for Vipps MobilePay: access token cache, standard headers, retries.

Retries 5xx/408/423/429 and network errors with jittered exponential backoff (honouring
Retry-After), always with the same Idempotency-Key; never retries other 4xx. A request whose
outcome is unknown after the last attempt raises OutcomeUnknown.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from payrequest.providers.base import OutcomeUnknown, ProviderError
from payrequest.providers.vipps import wire
from payrequest.providers.vipps.mapping import RETRYABLE_STATUSES

TOKEN_REFRESH_MARGIN = 120.0  # seconds before expiry that a new token is fetched


@dataclass(frozen=True, slots=True)
class Credentials:
    client_id: str
    client_secret: str
    subscription_key: str
    merchant_serial_number: str


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter: random between 0 and base * 2^attempt, capped; Retry-After wins."""
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not security


@dataclass
class _Token:
    value: str
    expires_at: float  # monotonic seconds


class VippsClient:
    def __init__(
        self,
        *,
        base_url: str,
        credentials: Credentials,
        system_name: str = "payrequest",
        system_version: str = "0",
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = credentials
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._monotonic = monotonic
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()
        self._system_headers = {
            "Vipps-System-Name": system_name,
            "Vipps-System-Version": system_version,
            "Vipps-System-Plugin-Name": system_name,
            "Vipps-System-Plugin-Version": system_version,
        }
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def access_token(self) -> str:
        """One token, reused until shortly before it expires."""
        async with self._token_lock:
            now = self._monotonic()
            if self._token is not None and now < self._token.expires_at:
                return self._token.value
            headers = {
                "client_id": self.credentials.client_id,
                "client_secret": self.credentials.client_secret,
                "Ocp-Apim-Subscription-Key": self.credentials.subscription_key,
                "Merchant-Serial-Number": self.credentials.merchant_serial_number,
                **self._system_headers,
            }
            response = await self._send("POST", "/accesstoken/get", headers=headers, content=b"")
            if response.status_code != 200:
                raise wire.problem(response)
            data = response.json()
            lifetime = float(data.get("expires_in", "3600"))
            self._token = _Token(
                value=str(data["access_token"]),
                expires_at=now + max(lifetime - TOKEN_REFRESH_MARGIN, lifetime / 2),
            )
            return self._token.value

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        idempotency_key: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> httpx.Response:
        """Send an authenticated API call; returns the final response (2xx or 4xx).

        `retry` overrides the client's policy for this call (e.g. one try for a call whose
        caller simply asks again later)."""
        token = await self.access_token()
        headers = {
            "Authorization": f"Bearer {token}",
            "Ocp-Apim-Subscription-Key": self.credentials.subscription_key,
            "Merchant-Serial-Number": self.credentials.merchant_serial_number,
            **self._system_headers,
        }
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        response = await self._send(method, path, retry, headers=headers, json=json)
        if response.status_code == 401:
            self._token = None  # expired or revoked: one fresh token, one more try
            headers["Authorization"] = f"Bearer {await self.access_token()}"
            response = await self._send(method, path, retry, headers=headers, json=json)
        return response

    async def _send(
        self, method: str, path: str, retry: RetryPolicy | None = None, **kwargs: Any
    ) -> httpx.Response:
        policy = retry or self.retry
        last_error: Exception | None = None
        for attempt in range(policy.attempts):
            if attempt:
                await self._sleep(policy.delay(attempt - 1, _retry_after(last_error)))
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:  # timeouts, refused or broken connections
                last_error = exc
                continue
            if response.status_code in RETRYABLE_STATUSES:
                last_error = _RetryableResponse(response)
                continue
            return response
        if isinstance(last_error, _RetryableResponse):
            raise wire.problem(last_error.response)
        raise OutcomeUnknown(
            f"{method} {path}: no answer after {policy.attempts} tries "
            f"({last_error.__class__.__name__})"
        )


class _RetryableResponse(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _retry_after(error: Exception | None) -> float | None:
    if not isinstance(error, _RetryableResponse):
        return None
    value = error.response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


__all__ = ["Credentials", "ProviderError", "RetryPolicy", "VippsClient"]
