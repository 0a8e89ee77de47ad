"""R2: any permutation and duplication of a payment's signals (webhooks and poll results mixed)
ends in the same state as in-order delivery, with exactly one allocation.

Each example runs in one transaction that is rolled back, so 1 000 examples stay fast.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from payrequest.db.session import create_engine, session_factory
from payrequest.events.models import OutboxEvent
from payrequest.inbound import service as inbound
from payrequest.jobs.models import Job
from payrequest.kit.money import Money
from payrequest.ledger.models import Allocation, Credit
from payrequest.payment_requests import apply
from payrequest.payment_requests.models import PaymentRequestEvent, PaymentRequestInvoice
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.payment_requests.state import Status
from payrequest.providers.base import (
    Capabilities,
    EventName,
    PaymentSnapshot,
    ProviderEvent,
    ProviderState,
)
from tests.conftest import TEST_ORGANISATION, migrate
from tests.factories import make_customer, make_invoice

AMOUNT = 30_000  # two invoices: 10 000 + 20 000
T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Signal:
    kind: str  # "webhook" | "poll" | "created-ok"
    name: str

    def __repr__(self) -> str:
        return f"{self.kind}:{self.name}"


def _event(reference: str, name: EventName, n: int, amount: int = AMOUNT) -> ProviderEvent:
    return ProviderEvent(
        reference=reference,
        name=name,
        psp_reference=f"psp-{name.value}",
        merchant_id="123456",
        amount=Money(amount, "NOK"),
        occurred_at=T0 + timedelta(seconds=n),
        success=True,
    )


def _snapshot(
    reference: str, state: ProviderState, captured: int = 0, refunded: int = 0, cancelled: int = 0
) -> PaymentSnapshot:
    authorized = AMOUNT if state is ProviderState.authorized else 0
    return PaymentSnapshot(
        reference, state, Money(AMOUNT, "NOK"), authorized, captured, cancelled, refunded
    )


# What really happens to one payment, in order, per scenario.
SCENARIOS: dict[str, list[Signal]] = {
    "paid": [
        Signal("created-ok", "created"),
        Signal("webhook", "CREATED"),
        Signal("poll", "CREATED"),
        Signal("webhook", "AUTHORIZED"),
        Signal("poll", "AUTHORIZED"),
        Signal("webhook", "CAPTURED"),
        Signal("poll", "CAPTURED"),
    ],
    "rejected": [
        Signal("created-ok", "created"),
        Signal("webhook", "CREATED"),
        Signal("poll", "CREATED"),
        Signal("webhook", "ABORTED"),
        Signal("poll", "ABORTED"),
    ],
    "expired": [
        Signal("created-ok", "created"),
        Signal("webhook", "CREATED"),
        Signal("webhook", "EXPIRED"),
        Signal("poll", "EXPIRED"),
    ],
    "cancelled": [
        Signal("created-ok", "created"),
        Signal("webhook", "CREATED"),
        Signal("webhook", "TERMINATED"),
        Signal("poll", "TERMINATED"),
    ],
}


async def _deliver(session: AsyncSession, reference: str, signal: Signal, n: int) -> None:
    if signal.kind == "created-ok":
        await apply.apply_outcome(
            session, reference=reference, target=Status.pending, source="system"
        )
    elif signal.kind == "webhook":
        event = _event(reference, EventName[signal.name.lower()], n)
        await inbound.receive(
            session,
            provider="vipps",
            event=event,
            body=b"{}",
            headers={},
            organisation_id=TEST_ORGANISATION,
        )
    else:
        snapshots = {
            "CREATED": _snapshot(reference, ProviderState.created),
            "AUTHORIZED": _snapshot(reference, ProviderState.authorized),
            "CAPTURED": _snapshot(reference, ProviderState.authorized, captured=AMOUNT),
            "ABORTED": _snapshot(reference, ProviderState.aborted),
            "EXPIRED": _snapshot(reference, ProviderState.expired),
            "TERMINATED": _snapshot(reference, ProviderState.terminated, cancelled=AMOUNT),
        }
        await apply.apply_snapshot(session, snapshot=snapshots[signal.name], source="poll")


@dataclass(frozen=True)
class World:
    engine: AsyncEngine
    customer_id: int
    invoice_ids: list[int]


async def _outcome(world: World, signals: list[Signal]) -> dict[str, Any]:
    """Deliver `signals` to a fresh request and describe where it ends; then roll back."""
    scoped = session_factory(world.engine, scope=TEST_ORGANISATION)
    async with scoped() as session, session.begin():
        request = await create_request(
            session,
            data=NewPaymentRequest(
                customer_id=world.customer_id, invoice_ids=world.invoice_ids, phone="+4791234567"
            ),
            lifetime=Lifetime(60, Capabilities()),
        )
        for n, signal in enumerate(signals):
            await _deliver(session, request.reference, signal, n)
        await session.refresh(request)
        rows = await session.execute(
            select(Allocation.invoice_id, Allocation.amount).order_by(Allocation.invoice_id)
        )
        by_invoice = {world.invoice_ids.index(inv): amount for inv, amount in rows}
        changes = (
            (
                await session.execute(
                    select(PaymentRequestEvent.to_status)
                    .where(PaymentRequestEvent.kind == "state_changed")
                    .order_by(PaymentRequestEvent.id)
                )
            )
            .scalars()
            .all()
        )
        outbox = Counter((await session.execute(select(OutboxEvent.name))).scalars().all())
        captures = (
            (await session.execute(select(Job.id).where(Job.kind == apply.CAPTURE_JOB)))
            .scalars()
            .all()
        )
        credits = (await session.execute(select(Credit.id))).scalars().all()
        result = {
            "status": request.status,
            "captured": request.captured_amount,
            "allocations": by_invoice,
            "credits": len(credits),
            "changes": list(changes),
            "outbox": outbox,
            "capture_jobs": len(captures),
            "links_active": sorted(
                (await session.execute(select(PaymentRequestInvoice.active))).scalars().all()
            ),
        }
        await session.rollback()
        return result


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """One customer with two invoices, committed; every example rolls its own work back."""
    path: Path = tmp_path_factory.mktemp("order") / "order.db"
    url = f"sqlite:///{path}"
    migrate(url)
    engine = create_engine(url)
    # A module's fixture runs before the test acts for its organisation: it says whom for.
    async with session_factory(engine, scope=TEST_ORGANISATION)() as session, session.begin():
        customer = await make_customer(session)
        invoices = [
            await make_invoice(session, customer, amount=a, due_in_days=d)
            for a, d in ((10_000, 1), (20_000, 5))
        ]
        ids = [i.id for i in invoices]
    yield World(engine, customer.id, ids)
    await engine.dispose()


EXPECTED: dict[tuple[Signal, ...], dict[str, Any]] = {}

scenario_and_signals = st.sampled_from(sorted(SCENARIOS)).flatmap(
    lambda name: st.tuples(
        st.just(name),
        st.lists(st.sampled_from(SCENARIOS[name]), min_size=1, max_size=12).flatmap(
            lambda drawn: st.permutations(drawn + SCENARIOS[name][-1:])
        ),
    )
)


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=scenario_and_signals)
async def test_any_order_and_duplication_ends_like_in_order_delivery(
    world: World, case: tuple[str, list[Signal]]
) -> None:
    name, shuffled = case
    in_order = tuple(sorted(set(shuffled), key=SCENARIOS[name].index))
    if in_order not in EXPECTED:  # the in-order result depends only on which signals came
        EXPECTED[in_order] = await _outcome(world, list(in_order))
    expected = EXPECTED[in_order]
    actual = await _outcome(world, list(shuffled))
    assert actual == expected, f"{name}: {shuffled}"
    if name == "paid":
        assert actual["status"] == "paid"
        assert actual["allocations"] == {0: 10_000, 1: 20_000}
        assert actual["capture_jobs"] == 1
        assert actual["outbox"]["payment_request.paid"] == 1
    assert actual["links_active"] == [False, False]  # every scenario ends final
