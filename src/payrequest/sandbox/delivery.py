"""Webhook delivery: every ePayment event to every matching registration, as a signed POST.

Per (registration, payment) stream, events go strictly in order: the next one waits until the
head was answered 2xx (head-of-line blocking) or given up after `webhook_max_age`. Failures
retry on `webhook_retry_schedule` (last delay repeats). Delivery is at least once: an event
whose POST was in flight when the emulator stopped is sent again after a restart.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

import httpx

from payrequest.sandbox.background import deliver_until_cancelled
from payrequest.sandbox.signing import signed_headers
from payrequest.sandbox.store import Delivery

if TYPE_CHECKING:
    from payrequest.sandbox.emulator import Sandbox

Stream = tuple[str, str]  # (webhook id, payment reference)
IDLE_WAIT = 1.0


def event_name(payment_event: str) -> str:
    """`AUTHORIZED` -> `epayments.payment.authorized.v1`."""
    return f"epayments.payment.{payment_event.lower()}.v1"


class Deliverer:
    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.wake = asyncio.Event()
        self.inflight: set[Stream] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.client: httpx.AsyncClient | None = None

    def enqueue(self, msn: str, payload: dict[str, Any]) -> None:
        """Queue the event for every registration of `msn` that subscribed to it."""
        name = event_name(payload["name"])
        body = json.dumps(payload, separators=(",", ":"))
        now = time.time()
        for hook in self.sb.store.webhooks(msn):
            if name not in hook.events:
                continue
            dropped = self.sb.chance(self.sb.faults.webhook_drop_rate)
            status = "dropped" if dropped else "pending"
            self.sb.store.enqueue(hook.id, payload["reference"], name, body, now, status)
        self.wake.set()

    async def run(self) -> None:
        self.client = httpx.AsyncClient(
            timeout=self.sb.config.webhook_timeout, follow_redirects=False
        )
        try:
            await deliver_until_cancelled(self.wake, self._dispatch, self.tasks)
        finally:
            await self.client.aclose()
            self.client = None

    def _dispatch(self) -> float:
        """Start a sender for every stream whose head is due; seconds until the next is due."""
        now = time.time()
        wait = IDLE_WAIT
        for head in self.sb.store.stream_heads():
            stream = (head.webhook_id, head.reference)
            if stream in self.inflight:
                continue
            if head.next_attempt_at > now:
                wait = min(wait, head.next_attempt_at - now)
                continue
            self.inflight.add(stream)
            task = asyncio.create_task(self._send_head(stream))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return max(wait, 0.005)

    async def _send_head(self, stream: Stream) -> None:
        try:
            pending = self.sb.store.pending_in_stream(*stream)
            if len(pending) >= 2 and self.sb.chance(self.sb.faults.webhook_reorder_rate):
                self.sb.store.swap_order(pending[0], pending[1])
                pending = self.sb.store.pending_in_stream(*stream)
            if pending:
                await self._attempt(pending[0])
        finally:
            self.inflight.discard(stream)
            self.wake.set()

    async def _attempt(self, delivery: Delivery) -> None:
        ok, result = await self._post(delivery)
        if ok:
            self.sb.store.finish_delivery(delivery.id, "delivered", result)
            if self.sb.chance(self.sb.faults.webhook_duplicate_rate):
                await self._post(delivery)
            return
        now = time.time()
        if now - delivery.created_at >= self.sb.config.webhook_max_age:
            self.sb.store.finish_delivery(delivery.id, "failed", result)
            return
        schedule = self.sb.config.webhook_retry_schedule
        delay = schedule[min(delivery.attempts, len(schedule) - 1)]
        self.sb.store.retry_delivery(delivery.id, now + delay, result)

    async def _post(self, delivery: Delivery) -> tuple[bool, str]:
        hook = self.sb.store.webhook(delivery.webhook_id)
        if hook is None or self.client is None:
            return False, "registration deleted"
        body = delivery.body.encode("utf-8")
        headers = signed_headers(hook.secret, hook.url, body, time.time(), hook.id)
        try:
            response = await self.client.post(hook.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return False, f"{type(exc).__name__}: {exc}"[:200]
        return 200 <= response.status_code < 300, f"HTTP {response.status_code}"
