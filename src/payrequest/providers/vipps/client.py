"""HTTP client for Vipps MobilePay: access token cache, standard headers, retries.

Retries 5xx/408/423/429 and network errors with jittered exponential backoff, always with the
same Idempotency-Key; never retries other 4xx. A `Retry-After` of a few seconds
(`RetryPolicy.max_wait`) is slept; a longer one ends the call with TryAgainLater carrying the
wait, so that a job is rescheduled instead of holding a worker (docs/vipps.md#rate-limits-and-
polling). A request whose outcome is unknown after the last attempt raises OutcomeUnknown.

Time: each try waits at most `timeout` for an answer (and 3 s for a connection), and no
retry starts later than `RetryPolicy.deadline` after the call began, so one call (with its
retries) ends within deadline + timeout: 20 s by default, well inside a job's 50 s timeout
and its 60 s lease (docs/deployment.md#money-movements-and-polling-under-a-slow-provider).
Every error answer is logged with Vipps' traceId and instance, for support.
"""

from __future__ import annotations

import asyncio
import logging
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
TOKEN_PATH = "/accesstoken/get"  # noqa: S105 - a path, not a secret
CONNECT_TIMEOUT = 3.0  # seconds to open a connection (a try's answer gets `timeout`)

log = logging.getLogger(__name__)


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
    max_wait: float = 2.0  # the longest Retry-After slept inside a call; longer: TryAgainLater
    deadline: float = 15.0  # seconds after the call began when no further try is started

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter: random between 0 and base * 2^attempt, capped; Retry-After wins."""
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not security

    def sleeps(self, retry_after: float | None) -> bool:
        """Whether a retry after this Retry-After is still made inside the call."""
        return retry_after is None or retry_after <= self.max_wait


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
        timeout: float = 5.0,
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
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)),
            transport=transport,
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
            response = await self._send("POST", TOKEN_PATH, headers=headers, content=b"")
            if response.status_code != 200:
                raise self.problem(response, token=True)
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

    def problem(self, response: httpx.Response, *, token: bool = False) -> ProviderError:
        """The error an answer carries, logged with what support needs to find the call:
        Vipps' traceId and instance (the identity provider's trace and correlation ids for
        the access token)."""
        error = wire.token_problem(response) if token else wire.problem(response)
        ids = wire.support_ids(response)
        request = response.request
        log.warning(
            "Vipps MobilePay answered %s %s with HTTP %s%s: %s (%s)",
            request.method,
            request.url.path,
            response.status_code,
            f" ErrorCode {error.code}" if error.code else "",
            error.detail or error.message,
            ", ".join(f"{name} {value}" for name, value in ids.items()) or "no trace id",
            extra={
                "vipps_status": response.status_code,
                "vipps_code": error.code,
                "vipps_trace_id": ids.get("traceId") or ids.get("trace_id"),
                "vipps_instance": ids.get("instance"),
            },
        )
        return error

    async def _send(
        self, method: str, path: str, retry: RetryPolicy | None = None, **kwargs: Any
    ) -> httpx.Response:
        policy = retry or self.retry
        last_error: Exception | None = None
        started, tries = self._monotonic(), 0
        for attempt in range(policy.attempts):
            if attempt:
                delay = policy.delay(attempt - 1, _retry_after(last_error))
                if self._monotonic() - started + delay >= policy.deadline:
                    break  # out of time: the caller (a job) tries again later
                await self._sleep(delay)
            tries += 1
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:  # timeouts, refused or broken connections
                last_error = exc
                continue
            if response.status_code in RETRYABLE_STATUSES:
                last_error = _RetryableResponse(response)
                if not policy.sleeps(_retry_after(last_error)):
                    break  # a long wait is the caller's (a job's) to schedule, not ours to sleep
                continue
            return response
        if isinstance(last_error, _RetryableResponse):
            raise self.problem(last_error.response)
        raise OutcomeUnknown(
            f"{method} {path}: no answer after {tries} tries ({last_error.__class__.__name__})"
        )


class _RetryableResponse(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _retry_after(error: Exception | None) -> float | None:
    if not isinstance(error, _RetryableResponse):
        return None
    return wire.retry_after(error.response)


__all__ = ["Credentials", "ProviderError", "RetryPolicy", "VippsClient"]
