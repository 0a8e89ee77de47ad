"""Webhook deliveries: every event to every enabled endpoint of its account that wants it.

A delivery is a signed `POST` of the event's JSON; any 2xx answer delivers it, anything else
(or no answer within `webhook_timeout`) is retried after the next delay of
`webhook_retry_schedule` (nominal seconds, shortened by the clock speed) until the schedule is
used up. There is no ordering between deliveries, as at Stripe; one delivery per endpoint is in
flight at a time, oldest due first. The switches drop, duplicate and reorder deliveries
(docs/stripe.md#webhooks).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING

import httpx

from payrequest.sandbox.background import deliver_until_cancelled
from payrequest.sandbox.stripe import render
from payrequest.sandbox.stripe.model import Delivery, Event
from payrequest.sandbox.stripe.signing import signature_header

if TYPE_CHECKING:
    from payrequest.sandbox.stripe.emulator import Account, StripeEmulator

IDLE_WAIT = 1.0
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


class Deliverer:
    def __init__(self, emulator: StripeEmulator) -> None:
        self.emu = emulator
        self.deliveries: list[Delivery] = []
        self.wake = asyncio.Event()
        self.busy: set[str] = set()  # endpoints with a delivery in flight
        self.tasks: set[asyncio.Task[None]] = set()
        self.client: httpx.AsyncClient | None = None

    def enqueue(self, account: Account, event: Event) -> None:
        endpoints = [we for we in account.endpoints.values() if we.wants(event.type)]
        payload = render.event(event, len(endpoints))
        body = json.dumps(payload, indent=2).encode("utf-8")
        for endpoint in endpoints:
            dropped = self.emu.chance(self.emu.faults.webhook_drop_rate)
            self.deliveries.append(
                Delivery(
                    id=len(self.deliveries) + 1,
                    account=account.key,
                    event_id=event.id,
                    endpoint_id=endpoint.id,
                    body=body,
                    status="dropped" if dropped else "pending",
                    due=time.monotonic(),
                )
            )
        self.wake.set()

    def pending_for(self, event_id: str) -> int:
        return sum(1 for d in self.deliveries if d.event_id == event_id and d.status == "pending")

    async def run(self) -> None:
        self.client = httpx.AsyncClient(
            timeout=self.emu.config.webhook_timeout, follow_redirects=False
        )
        try:
            await deliver_until_cancelled(self.wake, self._dispatch, self.tasks)
        finally:
            await self.client.aclose()
            self.client = None

    def _dispatch(self) -> float:
        """Start one due delivery for every endpoint not busy; seconds until the next is due."""
        now = time.monotonic()
        wait = IDLE_WAIT
        due: dict[str, list[Delivery]] = {}
        for delivery in self.deliveries:
            if delivery.status != "pending" or delivery.endpoint_id in self.busy:
                continue
            if delivery.due > now:
                wait = min(wait, delivery.due - now)
                continue
            due.setdefault(delivery.endpoint_id, []).append(delivery)
        for endpoint_id, ready in due.items():
            pick = ready[0]
            if len(ready) >= 2 and self.emu.chance(self.emu.faults.webhook_reorder_rate):
                pick = ready[1]
            self.busy.add(endpoint_id)
            task = asyncio.create_task(self._attempt(pick))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return max(wait, 0.005)

    async def _attempt(self, delivery: Delivery) -> None:
        try:
            ok, result = await self._post(delivery)
            delivery.attempts += 1
            delivery.last_result = result
            if ok:
                delivery.status = "delivered"
                if self.emu.chance(self.emu.faults.webhook_duplicate_rate):
                    await self._post(delivery)
                return
            schedule = self.emu.config.webhook_retry_schedule
            if delivery.attempts > len(schedule):
                delivery.status = "failed"
                return
            nominal = schedule[delivery.attempts - 1]
            delivery.due = time.monotonic() + nominal / self.emu.clock.speed
        finally:
            self.busy.discard(delivery.endpoint_id)
            self.wake.set()

    async def _post(self, delivery: Delivery) -> tuple[bool, str]:
        account = self.emu.accounts.get(delivery.account)
        endpoint = account.endpoints.get(delivery.endpoint_id) if account else None
        if endpoint is None or self.client is None:
            return False, "endpoint deleted"
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Stripe-Signature": signature_header(endpoint.secret, int(time.time()), delivery.body),
        }
        try:
            response = await self.client.post(endpoint.url, content=delivery.body, headers=headers)
        except httpx.HTTPError as exc:
            return False, f"{type(exc).__name__}: {exc}"[:200]
        return 200 <= response.status_code < 300, f"HTTP {response.status_code}"
