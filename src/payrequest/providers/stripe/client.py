"""The official SDK's client, bounded in time, and every failed call as a neutral error.

Time: each try waits at most `timeout` for an answer (3 s to connect); the SDK tries again
`max_network_retries` times on a broken connection, a 409 and a 5xx (or when Stripe says
`Stripe-Should-Retry: true`), after 0.5 s, then 1 s, always with the same `Idempotency-Key`.
With the defaults (6 s, 2 retries) one call ends within 3 × (3 s + 6 s) plus 1.5 s of
backoff, under 30 s and inside a job's 50 s (docs/stripe.md#calls). A 429 without
`Stripe-Should-Retry` is not retried here: it ends the call with TryAgainLater, for the job
to send it again later.

Every error answer is logged with Stripe's request id (`req_…`), for support.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import stripe

from payrequest.providers.stripe.errors import neutral

T = TypeVar("T")
CONNECT_TIMEOUT = 3.0
log = logging.getLogger(__name__)


class StripeApi:
    """One account's `stripe.StripeClient` over an async HTTPX client of our own timeouts."""

    def __init__(
        self,
        secret_key: str,
        *,
        api_base: str,
        timeout: float = 6.0,
        max_network_retries: int = 2,
    ) -> None:
        self._http = stripe.HTTPXClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))
        )
        self.sdk = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base.rstrip("/")},
            max_network_retries=max_network_retries,
            http_client=self._http,
        )

    async def call(
        self, what: str, send: Callable[[], Awaitable[T]], *, changes: bool = False
    ) -> T:
        """Await one SDK call; its failure as a neutral error, logged with the request id.
        `changes`: a POST, whose unanswered try leaves its effect unknown (OutcomeUnknown)."""
        try:
            return await send()
        except stripe.StripeError as exc:
            error = neutral(exc, effect_unknown=changes)
            log.warning(
                "Stripe answered %s with %s%s: %s (%s)",
                what,
                f"HTTP {exc.http_status}" if exc.http_status else "no answer",
                f" code {error.code}" if error.code else "",
                error.detail or error.message,
                f"request {exc.request_id}" if exc.request_id else "no request id",
                extra={
                    "stripe_status": exc.http_status,
                    "stripe_code": error.code,
                    "stripe_request_id": exc.request_id,
                },
            )
            raise error from exc

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]
