"""The metrics this process keeps (Prometheus client), and the text `/metrics` serves.

Counted where it happens, in this process: HTTP requests (web.observe), provider calls
(providers.measured), SSE connections (realtime.broker), rate-limit refusals and webhooks by
outcome (web.observe, from the route and status). What lives in the database (the job queue,
the webhook inbox) is read when scraped (observability.database). Each process has its own
numbers; with `PROMETHEUS_MULTIPROC_DIR` set, the client library's multiprocess mode adds up
those of every process on the host (docs/deployment.md, "Metrics").
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

HTTP_REQUESTS = Counter(
    "payrequest_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "payrequest_http_request_duration_seconds",
    "Time to answer an HTTP request (to the end of the body; SSE streams are left out).",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WEBHOOKS = Counter(
    "payrequest_webhooks",
    "Provider webhooks answered: received (2xx; stored, applied or kept for a retry) or "
    "rejected (4xx: signature, date or body not accepted).",
    ["provider", "outcome"],
)
RATE_LIMIT_REFUSALS = Counter(
    "payrequest_rate_limit_refusals",
    "Requests refused by a rate limit (answered 429), by route template.",
    ["route"],
)
PROVIDER_DURATION = Histogram(
    "payrequest_provider_call_duration_seconds",
    "Time of one call to the payment provider, retries inside the call included.",
    ["provider", "operation"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40),
)
PROVIDER_ERRORS = Counter(
    "payrequest_provider_call_errors",
    "Provider calls that failed, by operation and kind: refused (the provider said no), "
    "unavailable (5xx or rate limited), unknown_outcome (timeout, broken connection), "
    "not_found, other.",
    ["provider", "operation", "kind"],
)
SSE_CONNECTIONS = Gauge(
    "payrequest_sse_connections",
    "Live-update streams (SSE) open in this process.",
    multiprocess_mode="livesum",
)


class _Combined(Collector):
    """A registry-like view: the process's metrics followed by collectors made per scrape."""

    def __init__(self, base: CollectorRegistry, extra: Iterable[Collector]) -> None:
        self._base = base
        self._extra = list(extra)

    def collect(self) -> Iterator[Metric]:
        yield from self._base.collect()
        for collector in self._extra:
            yield from collector.collect()


def _process_registry() -> CollectorRegistry:
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def render(extra: Iterable[Collector] = ()) -> bytes:
    """The Prometheus text exposition of this process's metrics and of `extra`."""
    return generate_latest(_Combined(_process_registry(), extra))
