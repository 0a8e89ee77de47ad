"""A webhook round trip: create a tiny QR payment, cancel it, and wait for its events.

Shared by `payrequest vipps check` and the Settings page's "Test the webhook" button. No money
moves: the payment is cancelled before anybody could approve it, and its webhooks land in the
inbox as "unmatched" (no payment request has a `check-` reference). Such rows belong to no
organisation, so the inbox is read for all of them, by the check's own fresh reference.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.db.scope import ALL, scoped_to
from payrequest.inbound.models import InboundEvent
from payrequest.kit.ids import random_token
from payrequest.kit.markets import currency_of
from payrequest.kit.money import Money
from payrequest.providers.base import CreatePayment, EventName, PaymentProvider, UserFlow

# What the inbox holds for a payment created and then cancelled before approval (Vipps
# MobilePay: CREATED, TERMINATED).
EXPECTED_EVENTS: tuple[str, ...] = (EventName.created.value, EventName.terminated.value)
CHECK_AMOUNT = 100  # one krone / one euro, in minor units
POLL_SECONDS = 0.2


@dataclass(frozen=True, slots=True)
class RoundTrip:
    reference: str
    received: tuple[str, ...]  # event names found in the inbox, in order of arrival
    elapsed_ms: int  # from the create until the last expected event, or until the wait ran out
    expected: tuple[str, ...] = EXPECTED_EVENTS

    @property
    def complete(self) -> bool:
        return all(name in self.received for name in self.expected)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(name for name in self.expected if name not in self.received)


def shown(names: Sequence[str]) -> str:
    """Event names as the provider's documentation writes them: `CREATED, TERMINATED`."""
    return ", ".join(name.upper() for name in names)


def check_reference() -> str:
    """A fresh reference that no payment request uses (ours never start with `check-`)."""
    return f"check-{random_token(9).replace('_', 'x')}"[:30]


async def received_events(
    sessions: async_sessionmaker[AsyncSession], reference: str
) -> tuple[str, ...]:
    """The names of the events stored for `reference`, whoever's they are (db.scope)."""
    async with sessions(info=scoped_to(ALL)) as session:
        rows = await session.execute(
            select(InboundEvent.event_name)
            .where(InboundEvent.reference == reference)
            .order_by(InboundEvent.id)
        )
        return tuple(str(name) for name in rows.scalars())


async def wait_for_events(
    sessions: async_sessionmaker[AsyncSession],
    reference: str,
    *,
    wait: float,
    expected: Sequence[str] = EXPECTED_EVENTS,
    started: float | None = None,
) -> RoundTrip:
    """Poll the inbox until every expected event for `reference` is there or `wait` runs out."""
    started = time.monotonic() if started is None else started
    deadline = time.monotonic() + wait
    while True:
        found = await received_events(sessions, reference)
        done = all(name in found for name in expected)
        if done or time.monotonic() >= deadline:
            elapsed = round((time.monotonic() - started) * 1000)
            return RoundTrip(reference, found, elapsed, tuple(expected))
        await asyncio.sleep(POLL_SECONDS)


async def round_trip(
    sessions: async_sessionmaker[AsyncSession],
    provider: PaymentProvider,
    *,
    market: str,
    wait: float,
    reference: str | None = None,
) -> RoundTrip:
    """Create and cancel a QR payment, then wait for its webhooks in the inbox.

    Raises ProviderError if the provider refuses the create or the cancel.
    """
    reference = reference or check_reference()
    started = time.monotonic()
    await provider.create_payment(
        CreatePayment(
            reference=reference,
            amount=Money(CHECK_AMOUNT, currency_of(market)),
            description="payrequest connection check",
            user_flow=UserFlow.qr,
            idempotency_key=f"create-{reference}",
        )
    )
    await provider.cancel(reference, idempotency_key=f"cancel-{reference}")
    return await wait_for_events(sessions, reference, wait=wait, started=started)
