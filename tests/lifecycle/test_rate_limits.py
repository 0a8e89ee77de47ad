"""Vipps MobilePay's 5-a-minute limit per payment, against the emulator (`rate_limits` on):
a sixth refund within the window is answered 429 with Retry-After; staff's inline try is told
to wait, and the refund job waits that long, then makes the refund once
(docs/vipps.md#rate-limits-and-polling)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.jobs.models import Job
from payrequest.ledger.models import Refund
from payrequest.payment_requests import refunds, repository
from payrequest.providers.base import OneProvider, TryAgainLater
from payrequest.providers.vipps.client import RetryPolicy
from payrequest.providers.vipps.provider import VippsProvider
from payrequest.sandbox import emulator as sandbox_emulator
from tests.factories import make_customer, make_invoice
from tests.lifecycle.conftest import Emulator, send_request, wait_for_status, wait_until

pytestmark = pytest.mark.usefixtures("webhook_ready")
Sessions = async_sessionmaker[AsyncSession]
WINDOW = 20.0  # the emulator's minute, shortened: Retry-After is still far over what a call sleeps
LIMIT = 5  # refunds a minute per payment


async def _refund(sessions: Sessions, reference: str) -> int:
    """Ask for a refund of 1.00; the server's worker sends it (the refund job)."""
    async with sessions() as session, session.begin():
        request = await repository.by_reference(session, reference)
        assert request is not None
        refund = await refunds.request_refund(session, payment_request_id=request.id, amount=100)
        return refund.id


async def _wait_refunded(sessions: Sessions, refund_id: int, *, within: float) -> Job:
    """Wait until the refund succeeded and its job is done; return the job."""
    dedupe_key = f"refund:{refund_id}"

    async def finished(session: AsyncSession) -> bool:
        refund = await session.get(Refund, refund_id)
        job = await session.scalar(select(Job).where(Job.dedupe_key == dedupe_key))
        done = job is not None and job.status == "done"
        return refund is not None and refund.status == "succeeded" and done

    await wait_until(sessions, finished, what=f"refund {refund_id}", within=within)
    async with sessions() as session:
        job = await session.scalar(select(Job).where(Job.dedupe_key == dedupe_key))
    assert job is not None
    return job


async def test_a_refund_over_the_limit_waits_for_vipps_and_is_made_once(
    sessions: Sessions,
    provider: VippsProvider,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox_emulator, "RATE_WINDOW", WINDOW)
    await emulator.faults(rate_limits=True)
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoice = await make_invoice(session, customer, amount=10_000)
        customer_id, invoice_id = customer.id, invoice.id
    reference = await send_request(
        sessions, provider, customer_id=customer_id, invoice_ids=[invoice_id]
    )
    await emulator.approve(reference)
    await wait_for_status(sessions, reference, "paid")

    for _ in range(LIMIT):  # five quick refunds: each made at once, in one attempt
        job = await _wait_refunded(sessions, await _refund(sessions, reference), within=WINDOW)
        assert job.attempts == 1

    sixth = await _refund(sessions, reference)
    # Staff's inline try (what the refund page does) is told to wait, and leaves it to the job.
    with pytest.raises(TryAgainLater) as told:
        await refunds.send_refund(sessions, OneProvider(provider), refund_id=sixth)
    assert told.value.retry_after > timedelta(seconds=RetryPolicy().max_wait)
    job = await _wait_refunded(sessions, sixth, within=2 * WINDOW)

    assert job.attempts == 2  # asked to wait once, then made: no burst of failed attempts
    assert job.last_error is not None and job.last_error.startswith("waiting until")
    assert "Rate limit is exceeded" in job.last_error
    assert (await emulator.events(reference)).count("REFUNDED") == LIMIT + 1  # none twice
    async with sessions() as session:
        request = await repository.by_reference(session, reference)
    assert request is not None and request.refunded_amount == (LIMIT + 1) * 100
