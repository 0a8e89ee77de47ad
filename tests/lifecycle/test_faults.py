"""The flow survives what networks do: every webhook dropped, or a third of calls failing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.inbound.models import InboundEvent
from payrequest.payment_requests import repository, workflows
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.providers.base import OneProvider, ProviderError
from payrequest.providers.vipps.provider import VippsProvider
from tests.factories import make_customer, make_invoice
from tests.lifecycle.conftest import Emulator, send_request, wait_for_status

pytestmark = pytest.mark.usefixtures("webhook_ready")
Sessions = async_sessionmaker[AsyncSession]
MSISDNS = [f"479123456{n}" for n in range(6)]  # a number gets at most 3 pushes in 10 minutes


async def _invoice(sessions: Sessions, amount: int = 15_000) -> tuple[int, int]:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoice = await make_invoice(session, customer, amount=amount)
        return customer.id, invoice.id


async def test_every_webhook_dropped_still_ends_paid_within_seconds(
    sessions: Sessions, provider: VippsProvider, emulator: Emulator
) -> None:
    await emulator.faults(webhook_drop_rate=1.0)
    customer_id, invoice_id = await _invoice(sessions)
    reference = await send_request(
        sessions, provider, customer_id=customer_id, invoice_ids=[invoice_id]
    )
    approved_at = time.monotonic()
    await emulator.approve(reference)
    # First poll 5 s after creation, then every 3 s: paid well within 10 s of approval.
    await wait_for_status(sessions, reference, "paid", within=12)
    assert time.monotonic() - approved_at < 12
    async with sessions() as session:
        received = (await session.execute(select(InboundEvent.id))).all()
    assert received == []  # no webhook arrived: the poller did it all
    assert await emulator.events(reference) == ["CREATED", "AUTHORIZED", "CAPTURED"]


async def test_with_every_webhook_dropped_a_request_approved_a_minute_in_shows_paid_soon(
    sessions: Sessions, provider: VippsProvider, emulator: Emulator
) -> None:
    """The customer took a minute to approve, and every webhook is lost: the poller is still
    asking every few seconds (it used to be at its one-a-minute interval by then)."""
    await emulator.faults(webhook_drop_rate=1.0)
    customer_id, invoice_id = await _invoice(sessions)
    reference = await send_request(
        sessions, provider, customer_id=customer_id, invoice_ids=[invoice_id]
    )
    async with sessions() as session, session.begin():  # as if sent a minute ago and polled since
        request = await repository.lock(session, reference=reference)
        assert request is not None
        request.created_at -= timedelta(seconds=60)
        request.poll_count = 20
    await workflows.poll(
        sessions, OneProvider(provider), reference=reference
    )  # the poll just before
    approved_at = time.monotonic()
    await emulator.approve(reference)
    await wait_for_status(sessions, reference, "paid", within=10)
    assert time.monotonic() - approved_at < 8


async def _until_ok(action: Callable[[], Awaitable[object]], tries: int = 30) -> None:
    """Retry as a job would: the same call, the same idempotency keys."""
    for _ in range(tries - 1):
        try:
            await action()
        except (ProviderError, AssertionError):
            await asyncio.sleep(0.05)
            continue
        return
    await action()


async def test_a_third_of_calls_failing_creates_and_captures_exactly_once(
    sessions: Sessions, provider: VippsProvider, emulator: Emulator
) -> None:
    invoices = [await _invoice(sessions, 10_000 + i) for i in range(6)]
    references = []
    for n, (customer_id, invoice_id) in enumerate(invoices):
        async with sessions() as session, session.begin():
            request = await create_request(
                session,
                data=NewPaymentRequest(
                    customer_id=customer_id, invoice_ids=[invoice_id], phone=f"+{MSISDNS[n]}"
                ),
                lifetime=Lifetime(60, provider.capabilities),
            )
            references.append(request.reference)
    await emulator.faults(
        error_rate=0.1,
        rate_limit_rate=0.1,
        timeout_rate=0.1,
        timeout_mode="close",
        rate_limits=False,
    )
    for reference in references:
        await _until_ok(
            partial(workflows.send, sessions, OneProvider(provider), reference=reference)
        )
        await wait_for_status(sessions, reference, "pending", within=20)
        phone = MSISDNS[references.index(reference)]
        await _until_ok(partial(emulator.approve, reference, phone, tolerate_done=True))
    for reference in references:
        await wait_for_status(sessions, reference, "paid", within=45)
    await emulator.faults(error_rate=0.0, rate_limit_rate=0.0, timeout_rate=0.0)
    for reference in references:
        events = await emulator.events(reference)
        assert events.count("CREATED") == 1, events
        assert events.count("AUTHORIZED") == 1, events
        assert events.count("CAPTURED") == 1, events
