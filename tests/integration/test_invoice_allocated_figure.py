"""`invoices.allocated`, the figure the database keeps (migration 0019), always equals the sum of
the invoice's allocations recomputed from the rows: after every step of a random sequence of
captured payments, manual payments and their undoing, credit applications and take-backs,
refund reversals and voids, and after rows written by SQL outside the ORM. Every test runs on
SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers.models import Customer
from payrequest.errors import PayrequestError
from payrequest.invoices.models import Invoice
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.ledger import credit as credits
from payrequest.ledger import manual, repository, service, take_back
from payrequest.ledger.manual import Actor, NewManualPayment
from payrequest.ledger.models import Allocation, ManualPayment, Refund
from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.repository import invoices_in_active_requests
from payrequest.users import service as users
from tests.factories import make_customer, make_invoice

STEPS = 60


async def _mismatches(session: AsyncSession) -> list[tuple[int, int, int]]:
    """(invoice, kept figure, recomputed sum) of every invoice where the two differ."""
    summed = (
        select(Allocation.invoice_id, func.sum(Allocation.amount).label("sum"))
        .group_by(Allocation.invoice_id)
        .subquery()
    )
    rows = await session.execute(
        select(Invoice.id, Invoice.allocated, func.coalesce(summed.c.sum, 0)).outerjoin(
            summed, summed.c.invoice_id == Invoice.id
        )
    )
    return [(i, kept, int(real)) for i, kept, real in rows if kept != int(real)]


async def _captured(session: AsyncSession, customer: Customer, n: int, rng: random.Random) -> None:
    """A paid request split over some of the customer's invoices (the rest becomes credit)."""
    invoices = (
        await session.scalars(select(Invoice.id).where(Invoice.customer_id == customer.id))
    ).all()
    amount = rng.randrange(1_000, 60_000)
    request = PaymentRequest(
        reference=f"figure-{n}",
        customer_id=customer.id,
        currency="NOK",
        amount=amount,
        description="figure",
        origin="staff",
        status="paid",
        captured_amount=amount,
        expires_at=utcnow() + timedelta(hours=1),
    )
    session.add(request)
    await session.flush()
    await service.allocate_payment(
        session,
        payment_request_id=request.id,
        customer_id=customer.id,
        amount=Money(amount, "NOK"),
        invoice_ids=rng.sample(list(invoices), k=min(len(invoices), rng.randrange(1, 4))),
    )
    if rng.random() < 0.5:  # part of it refunded: the allocations are reversed
        refund = Refund(
            payment_request_id=request.id,
            currency="NOK",
            amount=rng.randrange(1, amount + 1),
            credit_amount=0,
            status="succeeded",
            idempotency_key=f"figure-refund-{n}",
            reason="test",
        )
        session.add(refund)
        await session.flush()
        try:
            async with session.begin_nested():
                await service.reverse_allocations(session, refund=refund)
        except PayrequestError:
            pass  # more than the payment placed on invoices: refused, nothing written


async def _step(
    session: AsyncSession, customer: Customer, owner: Actor, n: int, rng: random.Random
) -> None:
    choice = rng.randrange(6)
    if choice == 0:
        await _captured(session, customer, n, rng)
    elif choice == 1:
        await manual.record(
            session,
            data=NewManualPayment(
                customer_id=customer.id,
                amount=Money(rng.randrange(1_000, 50_000), "NOK"),
                received_on=manual.business_today(),
                method="bank_transfer",
            ),
            in_requests=invoices_in_active_requests,
        )
    elif choice == 2:
        await credits.apply_credit(
            session,
            customer_id=customer.id,
            currency="NOK",
            in_requests=invoices_in_active_requests,
            applied_by=owner.user_id,
        )
    elif choice == 3:
        applied = (
            await session.scalars(
                select(Allocation.id).where(
                    Allocation.credit_id.is_not(None), Allocation.reversal.is_(False)
                )
            )
        ).all()
        if applied:
            await take_back.take_back(
                session, allocation_id=rng.choice(applied), actor=owner, reason="test"
            )
    elif choice == 4:
        payments = (await session.scalars(select(ManualPayment.id))).all()
        if payments:
            await manual.undo(session, payment_id=rng.choice(payments), actor=owner, reason="t")
    else:
        invoice = await make_invoice(session, customer, amount=rng.randrange(5_000, 40_000))
        if rng.random() < 0.3:
            await service.void_invoice(session, invoice_id=invoice.id)


async def test_the_kept_figure_equals_the_rows_after_random_operations(
    session: AsyncSession,
) -> None:
    rng = random.Random(19)
    customer = await make_customer(session)
    for days in (-30, -5, 10):
        await make_invoice(
            session, customer, amount=rng.randrange(10_000, 40_000), due_in_days=days
        )
    user = await users.create_user(
        session, email="owner@example.no", password="correct horse", role="owner"
    )
    owner = Actor(user.id, "owner")
    for n in range(STEPS):
        try:
            async with session.begin_nested():
                await _step(session, customer, owner, n, rng)
        except PayrequestError:
            pass  # refused (nothing open, no credit, …): rolled back to the savepoint
        assert await _mismatches(session) == [], f"after step {n}"
    sources = [
        Allocation.payment_request_id,
        Allocation.manual_payment_id,
        Allocation.credit_id,
        Allocation.refund_id,
        Allocation.reverses_allocation_id,
    ]
    for source in sources:  # every kind of change happened
        found = await session.scalar(select(func.count()).where(source.is_not(None)))
        assert found, source
    [balance] = await service.balances(session, customer.id)
    rows = await repository.invoices_with_balance(session, customer.id)
    assert balance.open == sum(r.balance.open_amount for r in rows)


async def test_rows_written_outside_the_orm_keep_the_figure(session: AsyncSession) -> None:
    customer = await make_customer(session)
    invoice = await make_invoice(session, customer, amount=50_000)
    other = await make_invoice(session, customer, amount=50_000)
    payment = ManualPayment(
        customer_id=customer.id,
        currency="NOK",
        amount=30_000,
        received_on=manual.business_today(),
        method="cash",
    )
    session.add(payment)
    await session.flush()
    values = {
        "invoice_id": invoice.id,
        "currency": "NOK",
        "amount": 30_000,
        "manual_payment_id": payment.id,
        "organisation_id": customer.organisation_id,
    }
    await session.execute(insert(Allocation).values(**values))  # no unit of work
    assert await _mismatches(session) == []
    await session.execute(
        update(Allocation)
        .where(Allocation.manual_payment_id == payment.id)
        .values(amount=20_000, invoice_id=other.id)
    )
    assert await _mismatches(session) == []
    figures = dict((await session.execute(select(Invoice.id, Invoice.allocated))).all())
    assert (figures[invoice.id], figures[other.id]) == (0, 20_000)
    await session.execute(delete(Allocation).where(Allocation.manual_payment_id == payment.id))
    assert await _mismatches(session) == []
