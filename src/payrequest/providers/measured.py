"""A payment provider that measures itself: every call to the provider is timed per operation
and its failures are counted by kind (observability.metrics), and log lines written during a
call about one payment carry its reference (and, on failure, the provider's trace id).

It wraps any `PaymentProvider` (providers.base) and changes nothing else: the same answers, the
same exceptions. Reading a webhook is local work, not a call, and is passed through unmeasured.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from payrequest.kit.money import Money
from payrequest.observability import metrics
from payrequest.observability.context import bound
from payrequest.providers.base import (
    CreatedPayment,
    CreatePayment,
    OutcomeUnknown,
    PaymentNotFound,
    PaymentProvider,
    PaymentSnapshot,
    ProviderError,
    ProviderEvent,
    TryAgainLater,
    WebhookEndpoint,
)

T = TypeVar("T")
log = logging.getLogger(__name__)


def error_kind(exc: BaseException) -> str:
    """How a failed call is counted: unknown_outcome (timeout, broken connection), not_found,
    unavailable (5xx, rate limited, anything the provider says to retry), refused (the
    provider said no), other (not a provider error at all)."""
    if isinstance(exc, OutcomeUnknown):
        return "unknown_outcome"
    if isinstance(exc, PaymentNotFound):
        return "not_found"
    if isinstance(exc, TryAgainLater) or (isinstance(exc, ProviderError) and exc.retryable):
        return "unavailable"
    if isinstance(exc, ProviderError):
        return "refused"
    return "other"


class MeasuredProvider:
    """`PaymentProvider` around another one, with metrics and log context."""

    def __init__(self, inner: PaymentProvider) -> None:
        self.inner = inner
        self.name = inner.name
        self.merchant_id = inner.merchant_id
        self.capabilities = inner.capabilities

    async def _measure(
        self, operation: str, call: Callable[[], Awaitable[T]], *, reference: str | None = None
    ) -> T:
        started = time.perf_counter()
        fields = {"reference": reference} if reference else {}
        with bound(**fields):
            try:
                return await call()
            except BaseException as exc:
                if isinstance(exc, Exception):
                    metrics.PROVIDER_ERRORS.labels(self.name, operation, error_kind(exc)).inc()
                    trace = exc.trace_id if isinstance(exc, ProviderError) else None
                    if trace:
                        with bound(trace_id=trace):
                            log.info("%s %s failed: %s", self.name, operation, exc)
                raise
            finally:
                metrics.PROVIDER_DURATION.labels(self.name, operation).observe(
                    time.perf_counter() - started
                )

    async def create_payment(self, request: CreatePayment) -> CreatedPayment:
        return await self._measure(
            "create_payment",
            lambda: self.inner.create_payment(request),
            reference=request.reference,
        )

    async def get_payment(self, reference: str) -> PaymentSnapshot:
        return await self._measure(
            "get_payment", lambda: self.inner.get_payment(reference), reference=reference
        )

    async def get_events(self, reference: str) -> list[ProviderEvent]:
        return await self._measure(
            "get_events", lambda: self.inner.get_events(reference), reference=reference
        )

    async def capture(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> PaymentSnapshot:
        return await self._measure(
            "capture",
            lambda: self.inner.capture(reference, amount, idempotency_key=idempotency_key),
            reference=reference,
        )

    async def cancel(self, reference: str, *, idempotency_key: str) -> PaymentSnapshot:
        return await self._measure(
            "cancel",
            lambda: self.inner.cancel(reference, idempotency_key=idempotency_key),
            reference=reference,
        )

    async def refund(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> PaymentSnapshot:
        return await self._measure(
            "refund",
            lambda: self.inner.refund(reference, amount, idempotency_key=idempotency_key),
            reference=reference,
        )

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, secrets: Sequence[str]
    ) -> ProviderEvent:
        return self.inner.parse_webhook(body, headers, secrets=secrets)

    def read_event(self, body: bytes) -> ProviderEvent:
        return self.inner.read_event(body)

    async def list_webhooks(self) -> list[WebhookEndpoint]:
        return await self._measure("list_webhooks", self.inner.list_webhooks)

    async def register_webhook(self, url: str) -> tuple[str, str]:
        return await self._measure("register_webhook", lambda: self.inner.register_webhook(url))

    async def delete_webhook(self, endpoint_id: str) -> None:
        await self._measure("delete_webhook", lambda: self.inner.delete_webhook(endpoint_id))

    async def close(self) -> None:
        await self.inner.close()


def measured(provider: PaymentProvider) -> PaymentProvider:
    """`provider` measured (once: an already measured provider is returned as it is)."""
    return provider if isinstance(provider, MeasuredProvider) else MeasuredProvider(provider)
