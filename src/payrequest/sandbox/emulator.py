"""One running emulator: its config, state, clock, faults, random source and background tasks.

`start()` and `stop()` run the expiry sweeper and the webhook deliverer. Starlette does not run
the lifespan of a mounted sub-app, so a parent app calls them from its own lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
import uuid
from collections import defaultdict, deque

from payrequest.sandbox.clock import SandboxClock
from payrequest.sandbox.config import SandboxConfig
from payrequest.sandbox.delivery import Deliverer
from payrequest.sandbox.faults import Faults
from payrequest.sandbox.model import Payment, PaymentEvent
from payrequest.sandbox.payments import expire_if_due
from payrequest.sandbox.store import Store

RATE_WINDOW = 60.0


class Sandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.store = Store(config.state_path)
        self.rng = random.Random(config.seed)  # noqa: S311 - faults, not cryptography
        self.faults = config.faults
        if config.clock_speed != 1.0:
            self.faults = self.faults.model_copy(update={"clock_speed": config.clock_speed})
        self.clock = SandboxClock(self.faults.clock_speed)
        self.token_key = self.store.meta("token_key", secrets.token_hex(32)).encode("ascii")
        self.subject_key = self.store.meta("subject_key", secrets.token_hex(32)).encode("ascii")
        self.deliverer = Deliverer(self)
        self.busy: set[tuple[str, str]] = set()  # payments with an operation in progress
        self._released = asyncio.Event()  # set when operation_hold_ms is lowered
        self.version = 0  # bumps on every change; the phone page polls it
        self._calls: dict[tuple[str, ...], deque[float]] = defaultdict(deque)
        self._tasks: list[asyncio.Task[None]] = []

    # lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the expiry sweeper and webhook deliverer (idempotent)."""
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self._sweep(), name="sandbox-expiry"),
            asyncio.create_task(self.deliverer.run(), name="sandbox-webhooks"),
        ]

    async def stop(self) -> None:
        """Stop background work; undelivered webhooks stay queued for the next start."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def close(self) -> None:
        self.store.close()

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    async def _sweep(self) -> None:
        while True:
            for payment in self.store.payments_in_state("CREATED"):
                expire_if_due(self, payment)
            await asyncio.sleep(self.config.sweep_interval)

    # helpers used by the operations ----------------------------------------------------
    def set_faults(self, faults: Faults) -> None:
        if faults.operation_hold_ms < self.faults.operation_hold_ms:
            self._released.set()  # the changes held now go on at once
            self._released = asyncio.Event()
        self.faults = faults
        self.clock.speed = faults.clock_speed

    async def hold_operation(self) -> None:
        """A change of a payment takes `operation_hold_ms` while the payment stays locked;
        lowering the switch (e.g. to 0) lets the changes held at that moment go on."""
        hold = self.faults.operation_hold_ms
        if hold:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), hold / 1000)

    def chance(self, rate: float) -> bool:
        """True with probability `rate`, from the seedable random source."""
        return rate > 0 and self.rng.random() < rate

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def changed(self) -> None:
        self.version += 1

    def record(
        self, payment: Payment, name: str, value: int, key: str | None, psp: str | None = None
    ) -> PaymentEvent:
        """Append an event to the log and queue its webhooks."""
        event = PaymentEvent(
            reference=payment.reference,
            psp_reference=psp or str(self.rng.randrange(10**9, 10**10)),
            name=name,
            currency=payment.currency,
            value=value,
            timestamp=self.clock.now(),
            idempotency_key=key,
        )
        self.store.add_event(payment.msn, event)
        self.deliverer.enqueue(payment.msn, {"msn": payment.msn, **event.to_wire()})
        self.changed()
        return event

    def over_limit(self, key: tuple[str, ...], limit: int) -> float | None:
        """Seconds to wait if `key` made `limit` calls in the last minute; else count it."""
        if not self.faults.rate_limits:
            return None
        now = time.monotonic()
        calls = self._calls[key]
        while calls and now - calls[0] >= RATE_WINDOW:
            calls.popleft()
        if len(calls) >= limit:
            return RATE_WINDOW - (now - calls[0])
        calls.append(now)
        return None
