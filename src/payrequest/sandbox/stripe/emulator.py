"""One running Stripe emulator: config, accounts (one per secret key), clock, switches,
random source, events and the background work (expiry sweep, webhook deliveries).

`start()` / `stop()` run the background work; a parent app that mounts the emulator calls
them from its own lifespan, since Starlette runs no lifespan of a mounted app. Everything runs
on one event loop, so the in-memory state needs no locks (docs/stripe.md#state).
"""

from __future__ import annotations

import asyncio
import hmac
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from payrequest.sandbox.background import Background
from payrequest.sandbox.clock import SandboxClock
from payrequest.sandbox.stripe import render
from payrequest.sandbox.stripe.config import TEST_KEY, StripeConfig
from payrequest.sandbox.stripe.delivery import Deliverer
from payrequest.sandbox.stripe.faults import StripeFaults
from payrequest.sandbox.stripe.model import (
    Charge,
    Event,
    PaymentIntent,
    Refund,
    Session,
    WebhookEndpoint,
    new_id,
)


@dataclass(frozen=True)
class Origin:
    """The API call behind a change (an event's `request`); None for the payer's page and the
    emulator's own sweeps."""

    request_id: str | None
    idempotency_key: str | None


NO_REQUEST = Origin(None, None)


@dataclass
class StoredAnswer:
    """What an idempotency key keeps: the call it was first used with and its answer."""

    endpoint: str
    fingerprint: str
    status: int
    body: bytes
    request_id: str
    stored_at: datetime


@dataclass
class Account:
    """One Stripe account: everything made with one secret key."""

    key: str
    id: str = field(default_factory=lambda: new_id("acct_", 16))
    sessions: dict[str, Session] = field(default_factory=dict)
    intents: dict[str, PaymentIntent] = field(default_factory=dict)
    charges: dict[str, Charge] = field(default_factory=dict)
    refunds: dict[str, Refund] = field(default_factory=dict)
    endpoints: dict[str, WebhookEndpoint] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    answers: dict[str, StoredAnswer] = field(default_factory=dict)
    in_flight: set[str] = field(default_factory=set)  # idempotency keys being worked on


class StripeEmulator:
    def __init__(self, config: StripeConfig) -> None:
        self.config = config
        self.faults: StripeFaults = config.faults
        self.clock = SandboxClock(self.faults.clock_speed)
        self.rng = random.Random(config.seed)  # noqa: S311 - faults, not cryptography
        self.accounts: dict[str, Account] = {key: Account(key) for key in config.secret_keys}
        self.deliverer = Deliverer(self)
        self._background = Background()
        self._configure_webhooks()

    def _configure_webhooks(self) -> None:
        account = self.accounts[self.config.secret_keys[0]]
        for hook in self.config.webhooks:
            endpoint = WebhookEndpoint(
                id=new_id("we_"),
                created=self.timestamp(),
                url=hook.url,
                enabled_events=list(hook.events),
                secret=self.config.webhook_secret(hook),
                api_version=None,
                description="configured at start",
                metadata={},
            )
            account.endpoints[endpoint.id] = endpoint

    # lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the expiry sweep and the webhook deliverer (idempotent)."""
        self._background.start(
            {"stripe-expiry": self._sweep, "stripe-webhooks": self.deliverer.run}
        )

    async def stop(self) -> None:
        """Stop background work; undelivered webhooks stay queued for the next start."""
        await self._background.stop()

    @property
    def running(self) -> bool:
        return self._background.running

    async def _sweep(self) -> None:
        from payrequest.sandbox.stripe.payments import expire_if_due

        while True:
            for account in list(self.accounts.values()):
                for session in list(account.sessions.values()):
                    expire_if_due(self, account, session)
            await asyncio.sleep(self.config.sweep_interval)

    # accounts --------------------------------------------------------------------------
    def account(self, key: str) -> Account | None:
        """The account of a secret key; a new one for an unknown test key if `any_test_key`."""
        for known in self.accounts.values():
            if hmac.compare_digest(known.key.encode(), key.encode()):
                return known
        if self.config.any_test_key and TEST_KEY.fullmatch(key):
            return self.accounts.setdefault(key, Account(key))
        return None

    # helpers for the operations ------------------------------------------------------------
    def set_faults(self, faults: StripeFaults) -> None:
        self.faults = faults
        self.clock.speed = faults.clock_speed

    def chance(self, rate: float) -> bool:
        """True with probability `rate`, from the seedable random source."""
        return rate > 0 and self.rng.random() < rate

    def timestamp(self) -> int:
        """Now on the emulator clock, in Unix seconds."""
        return int(self.clock.now().timestamp())

    def emit(
        self,
        account: Account,
        type_: str,
        obj: dict[str, Any],
        origin: Origin = NO_REQUEST,
        previous: dict[str, Any] | None = None,
    ) -> Event:
        """Record an event with a snapshot of `obj` and queue it for every endpoint that
        wants it."""
        event = Event(
            id=new_id("evt_"),
            type=type_,
            created=self.timestamp(),
            api_version=self.config.api_version,
            object=obj,
            request_id=origin.request_id,
            idempotency_key=origin.idempotency_key,
            previous_attributes=previous,
        )
        account.events[event.id] = event
        self.deliverer.enqueue(account, event)
        return event

    def render_event(self, event: Event) -> dict[str, Any]:
        return render.event(event, self.deliverer.pending_for(event.id))
