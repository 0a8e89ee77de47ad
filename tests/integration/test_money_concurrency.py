"""Two staff members at once on PostgreSQL: undoing the same manual payment, applying the same
credit, or taking back the same credit application. The row locks make the second wait for the
first and then see what it did: exactly one succeeds, the other is told why, and the books add
up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.errors import Conflict
from payrequest.kit.money import Money
from payrequest.ledger import credit as credits
from payrequest.ledger import manual, repository, take_back
from payrequest.ledger.manual import Actor, NewManualPayment
from payrequest.ledger.models import Allocation
from payrequest.payment_requests.repository import invoices_in_active_requests
from payrequest.users import service as users
from tests.factories import make_customer, make_invoice

pytestmark = pytest.mark.postgres
Sessions = async_sessionmaker[AsyncSession]
T = TypeVar("T")


@pytest.fixture
def pg_sessions(sessions: Sessions) -> Sessions:
    if sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("row locks between two sessions: PostgreSQL (SQLite has one writer)")
    return sessions


async def _setup(sessions: Sessions) -> tuple[int, int, int, Actor]:
    """A customer with two invoices, paid 10 000 by hand of which 4 000 became credit, and
    a third invoice; committed."""
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        await make_invoice(session, customer, amount=6_000, due_in_days=-5)
        owner = await users.create_user(
            session, email="owner@example.no", password="correct horse", role="owner"
        )
        recorded = await manual.record(
            session,
            data=NewManualPayment(
                customer_id=customer.id,
                amount=Money(10_000, "NOK"),
                received_on=manual.business_today(),
                method="bank_transfer",
            ),
            in_requests=invoices_in_active_requests,
        )
        await make_invoice(session, customer, amount=9_000, due_in_days=10)
    return customer.id, recorded.payment.id, owner.id, Actor(owner.id, "owner")


async def _waiting_for_a_lock(sessions: Sessions) -> None:
    """Until another connection of this database waits for a row lock (no timing assumed)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(2000):
        async with sessions() as probe:
            if (await probe.execute(query)).scalar_one():
                return
        await asyncio.sleep(0.005)
    raise AssertionError("the second session never waited for the first one's lock")


async def _race(
    sessions: Sessions, step: Callable[[AsyncSession], Awaitable[T]]
) -> tuple[T | Exception, T | Exception]:
    """Run `step` in a first transaction and, while it is still open, in a second one; then
    commit the first. Returns both outcomes (a result or the error raised)."""

    async def second() -> T:
        async with sessions() as session, session.begin():
            return await step(session)

    async with sessions() as session:
        await session.begin()
        try:
            first: T | Exception = await step(session)
        except Exception as exc:
            first = exc
        other = asyncio.create_task(second())
        try:
            await _waiting_for_a_lock(sessions)
        finally:
            await session.commit()
    try:
        later: T | Exception = await other
    except Exception as exc:
        later = exc
    return first, later


async def test_two_undos_at_once_end_in_one(pg_sessions: Sessions) -> None:
    _, payment_id, _, owner = await _setup(pg_sessions)

    first, second = await _race(
        pg_sessions,
        lambda session: manual.undo(session, payment_id=payment_id, actor=owner, reason="wrong"),
    )

    assert isinstance(first, manual.Undone) and not first.already
    assert isinstance(second, manual.Undone) and second.already, second
    async with pg_sessions() as session:
        reversals = (
            await session.execute(
                select(func.count()).where(
                    Allocation.manual_payment_id == payment_id, Allocation.reversal.is_(True)
                )
            )
        ).scalar_one()
    assert reversals == 1


async def test_two_applications_of_the_same_credit_at_once_spend_it_once(
    pg_sessions: Sessions,
) -> None:
    customer_id, _, _, _ = await _setup(pg_sessions)

    first, second = await _race(
        pg_sessions,
        lambda session: credits.apply_credit(
            session,
            customer_id=customer_id,
            currency="NOK",
            amount=4_000,
            in_requests=invoices_in_active_requests,
        ),
    )

    assert isinstance(first, credits.Applied) and first.amount == Money(4_000, "NOK")
    assert isinstance(second, Conflict) and second.code == "no_credit", second
    async with pg_sessions() as session:
        assert await repository.credit_by_currency(session, customer_id) == {}
        assert await repository.open_by_currency(session, customer_id) == {"NOK": 5_000}


async def test_two_take_backs_of_the_same_application_at_once_give_one_reversal(
    pg_sessions: Sessions,
) -> None:
    customer_id, _, _, owner = await _setup(pg_sessions)
    async with pg_sessions() as session, session.begin():
        applied = await credits.apply_credit(
            session,
            customer_id=customer_id,
            currency="NOK",
            in_requests=invoices_in_active_requests,
            applied_by=owner.user_id,
        )
    [application] = applied.allocations

    first, second = await _race(
        pg_sessions,
        lambda session: take_back.take_back(
            session, allocation_id=application.id, actor=owner, reason="wrong invoice"
        ),
    )

    assert isinstance(first, take_back.TakenBack) and not first.already
    assert isinstance(second, take_back.TakenBack) and second.already, second
    assert second.reversal.id == first.reversal.id
    async with pg_sessions() as session:
        reversals = (
            await session.execute(
                select(Allocation.reverses_allocation_id).where(
                    Allocation.credit_id == application.credit_id, Allocation.reversal.is_(True)
                )
            )
        ).all()
        assert reversals == [(application.id,)]
        assert await repository.credit_by_currency(session, customer_id) == {"NOK": 4_000}
        assert await repository.open_by_currency(session, customer_id) == {"NOK": 9_000}
