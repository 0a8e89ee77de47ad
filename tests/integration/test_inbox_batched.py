"""Batched webhooks (PAYREQUEST_INBOUND__APPLY=batched): the request only stores the event and
answers "received"; the drain applies what arrived, in batches, once each, in each payment's
order, and sets a failing event aside without holding back the others. SQLite and PostgreSQL,
the real app in-process; the provider's signed deliveries as Vipps MobilePay makes them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.app import create_app
from payrequest.config import load_settings
from payrequest.db.scope import ALL, scoped_to
from payrequest.inbound import drain, registrations
from payrequest.inbound.models import InboundEvent
from payrequest.jobs.models import Job
from payrequest.ledger.models import Allocation
from payrequest.payment_requests import apply
from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.payment_requests.state import Status
from payrequest.providers.base import Capabilities
from payrequest.runtime import Runtime
from tests.factories import make_customer, make_invoice
from tests.integration.test_webhook_unusable import SECRET, URL, event, signed
from tests.staff import BASE

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def app(database_url: str, sessions: Sessions, tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = load_settings(
        database_url=database_url,
        var_dir=tmp_path,
        public_url=BASE,
        inbound={"apply": "batched", "batch_size": 50},
    )
    app = create_app(settings, run_worker=False)
    runtime = app.state.runtime
    async with sessions() as session, session.begin():
        await registrations.add(
            session,
            provider="vipps",
            merchant_id="123456",
            external_id="hook-1",
            url=URL,
            secret=SECRET,
            box=runtime.box,
        )
    yield app
    await runtime.close()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield http


async def _pending(sessions: Sessions, count: int) -> list[tuple[str, int]]:
    """`count` requests waiting for the customer: (reference, amount)."""
    made = []
    async with sessions() as session, session.begin():
        for n in range(count):
            customer = await make_customer(session)
            invoice = await make_invoice(session, customer, amount=10_000 + n)
            request = await create_request(
                session,
                data=NewPaymentRequest(customer_id=customer.id, invoice_ids=[invoice.id]),
                lifetime=Lifetime(60, Capabilities()),
            )
            await apply.apply_outcome(
                session, reference=request.reference, target=Status.pending, source="test"
            )
            made.append((request.reference, request.amount))
    return made


async def _deliver(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    raw = json.dumps(body).encode()
    answer = await client.post("/webhooks/vipps", content=raw, headers=signed(raw))
    assert answer.status_code == 200, answer.text
    status: str = answer.json()["status"]
    return status


def _events(reference: str, amount: int) -> dict[str, dict[str, Any]]:
    value = {"currency": "NOK", "value": amount}
    return {
        name: event(reference, name=name, pspReference=f"psp-{name}-{reference}", amount=value)
        for name in ("AUTHORIZED", "CAPTURED")
    }


async def _statuses(sessions: Sessions) -> dict[str, str]:
    async with sessions() as session:
        rows = await session.execute(select(PaymentRequest.reference, PaymentRequest.status))
        return dict(rows.tuples().all())


async def test_the_answer_means_stored_and_the_drain_applies_once_in_order(
    app: FastAPI, client: httpx.AsyncClient, sessions: Sessions
) -> None:
    runtime: Runtime = app.state.runtime
    made = await _pending(sessions, 3)
    for reference, amount in made:  # captured first (reordered), every delivery twice
        events = _events(reference, amount)
        assert await _deliver(client, events["CAPTURED"]) == "received"
        assert await _deliver(client, events["CAPTURED"]) == "duplicate"
        assert await _deliver(client, events["AUTHORIZED"]) == "received"
    assert set((await _statuses(sessions)).values()) == {"pending"}  # nothing applied yet
    async with sessions(info=scoped_to(ALL)) as session:
        drains = (await session.scalars(select(Job).where(Job.kind == drain.DRAIN_JOB))).all()
    assert len(drains) == 1  # one waits, however many arrived

    done = await drain.drain(runtime.sessions, runtime.providers, batch_size=50)
    # One batch: each payment's events in the order they arrived, in the same transaction.
    assert (done.applied, done.unmatched, done.failed, done.batches) == (6, 0, 0, 1)
    assert set((await _statuses(sessions)).values()) == {"paid"}
    async with sessions(info=scoped_to(ALL)) as session:
        inbox = (await session.scalars(select(InboundEvent.status))).all()
        allocated = await session.scalar(select(func.sum(Allocation.amount)))
    assert sorted(inbox) == ["applied"] * 6
    assert allocated == sum(amount for _, amount in made)  # each captured once
    again = await drain.drain(runtime.sessions, runtime.providers, batch_size=50)
    assert again.applied == 0 and again.batches == 0


async def test_a_failing_event_is_set_aside_and_the_others_are_applied(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessions: Sessions,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime: Runtime = app.state.runtime
    made = await _pending(sessions, 3)
    broken = made[1][0]
    for reference, amount in made:
        assert await _deliver(client, _events(reference, amount)["AUTHORIZED"]) == "received"
    real = apply.apply_event

    async def failing_for_one(session: AsyncSession, **kwargs: Any) -> apply.Applied:
        if kwargs["event"].reference == broken:
            raise RuntimeError("a bug in applying this one")
        return await real(session, **kwargs)

    monkeypatch.setattr(apply, "apply_event", failing_for_one)
    done = await drain.drain(runtime.sessions, runtime.providers, batch_size=50)
    assert (done.applied, done.failed) == (2, 1)
    statuses = await _statuses(sessions)
    assert statuses[broken] == "pending"
    assert [statuses[r] for r, _ in made if r != broken] == ["authorized", "authorized"]
    async with sessions(info=scoped_to(ALL)) as session:
        kept = (
            await session.scalars(select(InboundEvent).where(InboundEvent.reference == broken))
        ).one()
        retry = (await session.scalars(select(Job).where(Job.kind == "inbound.apply"))).one()
    assert kept.status == "failed" and "a bug in applying this one" in (kept.error or "")
    assert retry.payload == {"inbound_id": kept.id}  # retried alone, by the inbox's retry job


async def test_an_event_waits_while_an_earlier_one_of_its_payment_is_in_another_batch(
    app: FastAPI, client: httpx.AsyncClient, sessions: Sessions, database_url: str
) -> None:
    """Another drain holds the payment's first event (its row locked): this drain applies the
    other payment's event and leaves the second event of the held payment waiting."""
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks held by another transaction: PostgreSQL (SQLite has one writer)")
    runtime: Runtime = app.state.runtime
    (held, held_amount), (free, free_amount) = await _pending(sessions, 2)
    events = _events(held, held_amount)
    assert await _deliver(client, events["AUTHORIZED"]) == "received"
    assert await _deliver(client, events["CAPTURED"]) == "received"
    assert await _deliver(client, _events(free, free_amount)["AUTHORIZED"]) == "received"
    async with sessions(info=scoped_to(ALL)) as other, other.begin():
        first = (
            await other.scalars(
                select(InboundEvent)
                .where(InboundEvent.reference == held)
                .order_by(InboundEvent.id)
                .limit(1)
                .with_for_update()
            )
        ).one()
        done = await drain.drain(
            runtime.sessions, runtime.providers, batch_size=50, budget=timedelta(seconds=1)
        )
        assert done.applied == 1  # the free payment's; the held one's second event waits
        async with sessions(info=scoped_to(ALL)) as session:
            rows = await session.execute(select(InboundEvent.id, InboundEvent.status))
            statuses = {inbound_id: status for inbound_id, status in rows}
        assert statuses[first.id] == "received"
        assert sorted(statuses.values()) == ["applied", "received", "received"]
    done = await drain.drain(runtime.sessions, runtime.providers, batch_size=50)
    assert done.applied == 2 and (await _statuses(sessions))[held] == "paid"
