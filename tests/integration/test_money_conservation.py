"""Property: whatever staff do with manual payments, undos and credit, the books add up.

For a customer who may have credit from the start (paid before anything was invoiced),
random sequences of recording a payment (chosen invoices or oldest due first), undoing one,
applying credit (an amount or all, chosen invoices or oldest due first), taking back one credit
application (some twice) and adding an invoice run against the real ledger on SQLite and
PostgreSQL. After every step, recomputed from rows:
  - what the customer paid (manual payments not undone) = allocations + live credit left;
  - no invoice has more allocated than its total, nor less than nothing;
  - no credit has a negative amount left, and a voided one is not counted.
A refused step (a clear error) changes nothing, and so does taking back an application that
was taken back before.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.customers.models import Customer
from payrequest.errors import PayrequestError
from payrequest.invoices.models import Invoice
from payrequest.kit.money import Money
from payrequest.ledger import credit as credits
from payrequest.ledger import manual, repository, take_back
from payrequest.ledger.manual import Actor, NewManualPayment
from payrequest.ledger.models import Allocation, Credit, ManualPayment
from payrequest.payment_requests.repository import invoices_in_active_requests
from payrequest.users import service as users
from payrequest.users.models import User
from tests.factories import make_customer, make_invoice

amounts = st.integers(min_value=1, max_value=60_000)
picks = st.none() | st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=3)
apply = st.tuples(st.just("apply"), st.none() | amounts, picks)
taking_back = st.tuples(st.just("take_back"), st.integers(min_value=0, max_value=5), st.booleans())
steps = st.lists(
    st.one_of(
        st.tuples(st.just("record"), amounts, picks),
        st.tuples(st.just("undo"), st.integers(min_value=0, max_value=5)),
        apply,
        apply,  # twice as often: credit is applied and taken back in more examples
        taking_back,
        taking_back,
        st.tuples(st.just("invoice"), amounts, st.integers(min_value=-20, max_value=20)),
    ),
    min_size=2,
    max_size=10,
)


async def _books(session: AsyncSession, customer_id: int) -> dict[str, Any]:
    """Everything the properties speak of, read back from the rows."""
    paid_in = await session.scalar(
        select(func.coalesce(func.sum(ManualPayment.amount), 0)).where(
            ManualPayment.customer_id == customer_id, ManualPayment.undone_at.is_(None)
        )
    )
    per_invoice = {
        invoice_id: (int(total), int(allocated))
        for invoice_id, total, allocated in await session.execute(
            select(Invoice.id, Invoice.total, func.coalesce(func.sum(Allocation.amount), 0))
            .outerjoin(Allocation, Allocation.invoice_id == Invoice.id)
            .where(Invoice.customer_id == customer_id)
            .group_by(Invoice.id, Invoice.total)
        )
    }
    remaining, used, refunded = repository.credit_remaining()
    left = {
        credit_id: (int(amount), voided is not None)
        for credit_id, amount, voided in await session.execute(
            select(Credit.id, remaining, Credit.voided_at)
            .outerjoin(used, used.c.credit_id == Credit.id)
            .outerjoin(refunded, refunded.c.credit_id == Credit.id)
            .where(Credit.customer_id == customer_id)
        )
    }
    rows = int(await session.scalar(select(func.count(Allocation.id))) or 0)
    return {"paid_in": int(paid_in or 0), "invoices": per_invoice, "credits": left, "rows": rows}


def _check(books: dict[str, Any], summary_credit: int) -> None:
    allocated = sum(a for _, a in books["invoices"].values())
    live_left = sum(amount for amount, voided in books["credits"].values() if not voided)
    assert books["paid_in"] == allocated + live_left, books
    assert summary_credit == live_left, (summary_credit, books)
    for total, given_ in books["invoices"].values():
        assert 0 <= given_ <= total, books
    for amount, voided in books["credits"].values():
        assert voided or amount >= 0, books


async def _step(
    session: AsyncSession, step: tuple[Any, ...], customer: Customer, owner: Actor
) -> bool:
    """Take one step; False when it changed nothing on purpose (a repeated take-back)."""
    invoice_ids = list(
        (
            await session.execute(
                select(Invoice.id).where(Invoice.customer_id == customer.id).order_by(Invoice.id)
            )
        ).scalars()
    )
    payments = list(
        (
            await session.execute(
                select(ManualPayment.id)
                .where(ManualPayment.customer_id == customer.id)
                .order_by(ManualPayment.id)
            )
        ).scalars()
    )

    def chosen(pick: list[int] | None) -> tuple[int, ...] | None:
        if pick is None or not invoice_ids:
            return None
        return tuple(dict.fromkeys(invoice_ids[i % len(invoice_ids)] for i in pick))

    kind = step[0]
    if kind == "record":
        await manual.record(
            session,
            data=NewManualPayment(
                customer_id=customer.id,
                amount=Money(step[1], "NOK"),
                received_on=manual.business_today(),
                method="bank_transfer",
                invoice_ids=chosen(step[2]),
            ),
            in_requests=invoices_in_active_requests,
        )
    elif kind == "undo" and payments:
        await manual.undo(
            session, payment_id=payments[step[1] % len(payments)], actor=owner, reason="test"
        )
    elif kind == "apply":
        await credits.apply_credit(
            session,
            customer_id=customer.id,
            currency="NOK",
            amount=step[1],
            invoice_ids=chosen(step[2]),
            in_requests=invoices_in_active_requests,
        )
        event("apply: done")
    elif kind == "take_back":
        applications = list(
            (
                await session.execute(
                    select(Allocation.id)
                    .join(Credit, Credit.id == Allocation.credit_id)
                    .where(Credit.customer_id == customer.id, Allocation.reversal.is_(False))
                    .order_by(Allocation.id)
                )
            ).scalars()
        )
        if applications:
            picked = applications[step[1] % len(applications)]
            done = await take_back.take_back(
                session, allocation_id=picked, actor=owner, reason="test"
            )
            event("take back: already taken back" if done.already else "take back: done")
            if step[2]:  # at once again: nothing changes
                before = await _books(session, customer.id)
                again = await take_back.take_back(
                    session, allocation_id=picked, actor=owner, reason="again"
                )
                assert again.already and await _books(session, customer.id) == before
            return not done.already
    elif kind == "invoice":
        await make_invoice(session, customer, amount=step[1], due_in_days=step[2])
    return True


async def _owner(sessions: async_sessionmaker[AsyncSession]) -> Actor:
    """One owner account for every example (hashing a password per example would be most of
    the test's time)."""
    async with sessions() as session, session.begin():
        found = await session.scalar(select(User.id).where(User.email == "owner@example.no"))
        if found is None:
            created = await users.create_user(
                session, email="owner@example.no", password="correct horse", role="owner"
            )
            found = created.id
    return Actor(found, "owner")


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    credit=st.integers(min_value=0, max_value=60_000),
    invoices=st.lists(
        st.tuples(amounts, st.integers(min_value=-30, max_value=30)), min_size=0, max_size=3
    ),
    plan=steps,
)
async def test_manual_payments_undos_and_credit_conserve_money(
    sessions: async_sessionmaker[AsyncSession],
    credit: int,
    invoices: list[tuple[int, int]],
    plan: list[tuple[Any, ...]],
) -> None:
    owner = await _owner(sessions)
    async with sessions() as session:
        await session.begin()
        try:
            customer = await make_customer(session)
            if credit:  # paid before anything was invoiced: all of it credit
                await _step(session, ("record", credit, None), customer, owner)
            for amount, due in invoices:
                await make_invoice(session, customer, amount=amount, due_in_days=due)
            for step in plan:
                before = await _books(session, customer.id)
                try:
                    async with session.begin_nested():
                        changed = await _step(session, step, customer, owner)
                except PayrequestError:
                    assert await _books(session, customer.id) == before, step
                else:
                    if not changed:
                        assert await _books(session, customer.id) == before, step
                books = await _books(session, customer.id)
                credit = (await repository.credit_by_currency(session, customer.id)).get("NOK", 0)
                _check(books, credit)
        finally:
            await session.rollback()
