"""Bulk send over real HTTP against the emulator: one request per eligible customer, resumable
after a crash, never a duplicate at the emulator or in the database."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from payrequest.cli import app as cli_app
from payrequest.db.session import read_only_factory
from payrequest.payment_requests import bulk, workflows
from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.providers.base import OneProvider
from payrequest.providers.vipps.provider import VippsProvider
from tests.factories import make_customer, make_invoice
from tests.lifecycle.conftest import Emulator, LiveServer

pytestmark = pytest.mark.usefixtures("webhook_ready")
Sessions = async_sessionmaker[AsyncSession]
NOK = bulk.BulkFilter(currency="NOK")


async def _customers(sessions: Sessions, count: int) -> list[str]:
    """`count` customers with one or two open invoices each (every third without a phone)."""
    numbers = []
    async with sessions() as session, session.begin():
        for n in range(count):
            # One number each: a number gets at most 3 pushes in 10 minutes.
            customer = await make_customer(
                session, phone="" if n % 3 == 2 else f"+4791234{500 + n}"
            )
            for i in range(1 + n % 2):
                await make_invoice(session, customer, amount=10_000 + n * 100 + i)
            numbers.append(customer.number)
    return numbers


async def _batch(sessions: Sessions, batch_id: str) -> list[PaymentRequest]:
    # A read: on SQLite it takes no write lock, so it does not wait for the connections of
    # the sends an interruption cancelled to give theirs back.
    async with read_only_factory(sessions.kw["bind"])() as session:
        stmt = select(PaymentRequest).where(
            PaymentRequest.reference.like(bulk.batch_prefix(batch_id) + "%")
        )
        return list((await session.execute(stmt)).scalars())


async def _run(
    sessions: Sessions, provider: VippsProvider, batch_id: str, **options: object
) -> bulk.Summary:
    return await bulk.run(
        sessions,
        OneProvider(provider),
        lifetime=Lifetime(60, provider.capabilities),
        bulk_filter=NOK,
        batch_id=batch_id,
        **options,  # type: ignore[arg-type]
    )


async def _assert_once_at_emulator(emulator: Emulator, requests: list[PaymentRequest]) -> None:
    for request in requests:
        events = await emulator.events(request.reference)
        assert Counter(events)["CREATED"] == 1, (request.reference, events)


async def test_batch_sends_one_request_per_customer(
    sessions: Sessions, provider: VippsProvider, emulator: Emulator
) -> None:
    numbers = await _customers(sessions, 6)
    async with sessions() as session:  # one customer is not eligible: nothing open
        the_plan = await bulk.plan(session, bulk_filter=NOK, batch_id="b1")
    assert sorted(item.customer_number for item in the_plan.items) == sorted(numbers)

    summary = await _run(sessions, provider, "b1", concurrency=3)
    assert (summary.sent, summary.skipped, summary.failed) == (6, 0, 0), summary.problems
    requests = await _batch(sessions, "b1")
    assert sorted(r.reference for r in requests) == sorted(
        bulk.reference_for("b1", n) for n in numbers
    )
    assert {r.status for r in requests} == {"pending"}
    assert {r.origin for r in requests} == {"bulk"}
    assert Counter(r.user_flow for r in requests) == {"push": 4, "qr": 2}
    assert sum(r.amount for r in requests) == sum(
        (10_000 + n * 100) * (1 + n % 2) + (n % 2) for n in range(6)
    )
    await _assert_once_at_emulator(emulator, requests)

    again = await _run(sessions, provider, "b1")  # a finished batch does nothing more
    assert (again.planned, again.already_done) == (0, 6)


async def test_interrupted_batch_resumes_without_duplicates(
    sessions: Sessions, provider: VippsProvider, emulator: Emulator
) -> None:
    numbers = await _customers(sessions, 12)
    # A crash after the provider answered but before we stored it: the request is `sending`
    # here and already CREATED at the emulator. The resumed batch must send the same key.
    lost = bulk.reference_for("b2", numbers[0])
    async with sessions() as session:
        first = next(
            i
            for i in (await bulk.plan(session, bulk_filter=NOK, batch_id="b2")).items
            if i.reference == lost
        )
    async with sessions() as session, session.begin():
        await create_request(
            session,
            data=NewPaymentRequest(
                customer_id=first.customer_id,
                invoice_ids=list(first.invoice_ids),
                phone=first.phone,
                origin="bulk",
                reference=lost,
            ),
            lifetime=Lifetime(60, provider.capabilities),
        )
    await workflows.send(sessions, OneProvider(provider), reference=lost)
    async with sessions() as session, session.begin():
        await session.execute(
            update(PaymentRequest).where(PaymentRequest.reference == lost).values(status="sending")
        )

    with pytest.raises(bulk.BulkInterrupted):
        await _run(sessions, provider, "b2", concurrency=4, stop_after=4)
    partial = await _batch(sessions, "b2")
    assert 4 < len(partial) < 12

    summary = await _run(sessions, provider, "b2", concurrency=4)
    assert summary.skipped == 0, summary.problems
    requests = await _batch(sessions, "b2")
    assert sorted(r.reference for r in requests) == sorted(
        bulk.reference_for("b2", n) for n in numbers
    )
    assert {r.status for r in requests} == {"pending"}
    async with sessions() as session:
        per_customer = await session.execute(
            select(PaymentRequest.customer_id, func.count())
            .group_by(PaymentRequest.customer_id)
            .having(func.count() > 1)
        )
        assert per_customer.all() == []
    await _assert_once_at_emulator(emulator, requests)


async def test_cli_dry_run_then_send(
    sessions: Sessions, live: LiveServer, emulator: Emulator, tmp_path: Path
) -> None:
    numbers = await _customers(sessions, 3)
    env = {
        "PAYREQUEST_DATABASE_URL": live.settings.database_url,
        "PAYREQUEST_PUBLIC_URL": live.url,
        "PAYREQUEST_VAR_DIR": str(tmp_path),
        "PAYREQUEST_SANDBOX_PERSIST": "false",
        "PAYREQUEST_VIPPS__LONG_LIVING_APPROVED": "true",
    }
    base = ["requests", "send-bulk", "--batch", "cli1"]
    dry = await asyncio.to_thread(CliRunner().invoke, cli_app, [*base, "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "3 to send" in dry.output
    assert await _batch(sessions, "cli1") == []

    crashed = await asyncio.to_thread(
        CliRunner().invoke, cli_app, [*base, "--concurrency", "1", "--stop-after", "1"], env=env
    )
    assert crashed.exit_code == 3, crashed.output
    assert "run the same command again" in crashed.output

    sent = await asyncio.to_thread(CliRunner().invoke, cli_app, base, env=env)
    assert sent.exit_code == 0, sent.output
    assert "2 sent" in sent.output and "1 done before" in sent.output
    requests = await _batch(sessions, "cli1")
    assert sorted(r.reference for r in requests) == sorted(
        bulk.reference_for("cli1", n) for n in numbers
    )
    await _assert_once_at_emulator(emulator, requests)
