"""Metrics of calls to the provider (the measured wrapper around our real Vipps client, over
real HTTP to the emulator) and of live-update streams, as the running server's /metrics shows
them."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.observability.metrics import PROVIDER_DURATION, PROVIDER_ERRORS, SSE_CONNECTIONS
from payrequest.providers.base import PaymentNotFound
from payrequest.providers.measured import MeasuredProvider, measured
from payrequest.providers.vipps.provider import VippsProvider
from payrequest.realtime.broker import OutboxTail
from tests.lifecycle.conftest import LiveServer


def _value(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(r"^(\w+)\{(.*)\} (\S+)$", line)
        if match and match.group(1) == name:
            found = ",".join(sorted(match.group(2).split(",")))
            if found == wanted:
                return float(match.group(3))
    return 0.0


async def test_provider_calls_are_timed_and_failures_counted_per_operation(
    live: LiveServer, provider: VippsProvider
) -> None:
    watched = measured(provider)
    assert isinstance(watched, MeasuredProvider) and measured(watched) is watched
    url = f"{live.url}/metrics"
    async with httpx.AsyncClient(timeout=10) as http:
        before = (await http.get(url)).text
        await watched.list_webhooks()
        with pytest.raises(PaymentNotFound):
            await watched.get_payment("no-such-payment-1")
        after = (await http.get(url)).text
    name = provider.name
    count = "payrequest_provider_call_duration_seconds_count"
    # At least our call: the live server's own work (registering its webhook, the poller)
    # runs in this process and may call the provider meanwhile.
    for operation in ("list_webhooks", "get_payment"):
        assert _value(after, count, provider=name, operation=operation) >= (
            _value(before, count, provider=name, operation=operation) + 1
        )
    errors = "payrequest_provider_call_errors_total"
    labels = {"provider": name, "operation": "get_payment", "kind": "not_found"}
    assert _value(after, errors, **labels) == _value(before, errors, **labels) + 1
    assert _value(after, errors, provider=name, operation="list_webhooks", kind="refused") == (
        _value(before, errors, provider=name, operation="list_webhooks", kind="refused")
    )
    # The same numbers the process keeps.
    assert PROVIDER_ERRORS.labels(name, "get_payment", "not_found")._value.get() >= 1
    assert PROVIDER_DURATION.labels(name, "list_webhooks")._sum.get() > 0


async def test_live_streams_are_counted_while_open(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    tail = OutboxTail(sessions)
    before = SSE_CONNECTIONS._value.get()
    first = tail.subscribe(lambda _notice: True)
    second = tail.subscribe(lambda _notice: True)
    assert SSE_CONNECTIONS._value.get() == before + 2
    tail.unsubscribe(first)
    tail.unsubscribe(first)  # a second unsubscribe changes nothing
    assert SSE_CONNECTIONS._value.get() == before + 1
    tail.unsubscribe(second)
    assert SSE_CONNECTIONS._value.get() == before
