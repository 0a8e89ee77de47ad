"""Metrics read from the database when `/metrics` is scraped: the job queue and the webhook
inbox, as every process sees them (so any one process's scrape tells the whole story).

The domain packages read the numbers (jobs.gauges, inbound.gauges, ratelimit.gauges); this
module only turns them into Prometheus gauges.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


@dataclass(frozen=True, slots=True)
class QueueKind:
    """One job kind: jobs waiting, due now, running and dead, and how late the oldest due
    one is (0 when none is due)."""

    queued: int = 0
    due: int = 0
    running: int = 0
    dead: int = 0
    oldest_due_age_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class InboxState:
    """The webhook inbox: rows per status, the oldest not yet applied, and how long the events
    received in the last `window_seconds` took from received to applied."""

    by_status: Mapping[str, int] = field(default_factory=dict)
    oldest_unapplied_age_seconds: float = 0.0
    lag_quantiles: Mapping[str, float] = field(default_factory=dict)  # "0.5", "0.95", "1"
    window_seconds: float = 300.0


@dataclass(frozen=True, slots=True)
class DatabaseState:
    """Everything read at one scrape; `reachable` False when the read failed."""

    reachable: bool
    queue: Mapping[str, QueueKind] = field(default_factory=dict)
    inbox: InboxState = field(default_factory=InboxState)
    rate_limit_hits: int = 0


class DatabaseCollector(Collector):
    """Gauges of one `DatabaseState` (made per scrape)."""

    def __init__(self, state: DatabaseState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        state = self.state
        up = GaugeMetricFamily(
            "payrequest_database_up", "1 when this scrape could read the database, else 0."
        )
        up.add_metric([], 1.0 if state.reachable else 0.0)
        yield up
        if not state.reachable:
            return
        yield from self._queue()
        yield from self._inbox()
        hits = GaugeMetricFamily(
            "payrequest_rate_limit_hits_stored",
            "Rows in rate_limit_hits (counted tries still inside a limit's window; the worker "
            "purges expired ones).",
        )
        hits.add_metric([], float(state.rate_limit_hits))
        yield hits

    def _queue(self) -> Iterator[Metric]:
        families = {
            "queued": GaugeMetricFamily(
                "payrequest_jobs_queued",
                "Jobs waiting to run (due or not), by kind.",
                labels=["kind"],
            ),
            "due": GaugeMetricFamily(
                "payrequest_jobs_due", "Jobs whose time has come, not yet claimed.", labels=["kind"]
            ),
            "running": GaugeMetricFamily(
                "payrequest_jobs_running", "Jobs claimed by a worker now.", labels=["kind"]
            ),
            "dead": GaugeMetricFamily(
                "payrequest_jobs_dead",
                "Jobs that gave up (dead letters; the operations page lists them).",
                labels=["kind"],
            ),
            "oldest_due_age_seconds": GaugeMetricFamily(
                "payrequest_jobs_oldest_due_age_seconds",
                "How long the oldest due job has waited past its time (0: none due).",
                labels=["kind"],
            ),
        }
        for kind, numbers in sorted(self.state.queue.items()):
            for name, family in families.items():
                family.add_metric([kind], float(getattr(numbers, name)))
        yield from families.values()

    def _inbox(self) -> Iterator[Metric]:
        inbox = self.state.inbox
        events = GaugeMetricFamily(
            "payrequest_webhook_events",
            "Stored webhook events by status (received: not applied yet; applied; unmatched; "
            "failed: kept for a retry; unusable).",
            labels=["status"],
        )
        for status, count in sorted(inbox.by_status.items()):
            events.add_metric([status], float(count))
        yield events
        oldest = GaugeMetricFamily(
            "payrequest_webhook_oldest_unapplied_age_seconds",
            "Age of the oldest stored webhook event not applied yet (received or failed).",
        )
        oldest.add_metric([], inbox.oldest_unapplied_age_seconds)
        yield oldest
        lag = GaugeMetricFamily(
            "payrequest_webhook_apply_lag_seconds",
            f"Received to applied, over the events received in the last "
            f"{int(inbox.window_seconds)} s: median, 95th percentile and maximum.",
            labels=["quantile"],
        )
        for quantile, seconds in sorted(inbox.lag_quantiles.items()):
            lag.add_metric([quantile], seconds)
        yield lag
