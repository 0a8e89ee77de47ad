"""Manual payments: recorded against open invoices like a captured payment (oldest due first,
the rest becomes credit), announced, and undone with reversal rows and a voided credit.
Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers.models import Customer
from payrequest.errors import Conflict, CurrencyMismatch, ValidationFailed
from payrequest.events.models import OutboxEvent
from payrequest.invoices.models import Invoice
from payrequest.invoices.status import InvoiceStatus
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.ledger import credit as credits
from payrequest.ledger import manual, repository, service
from payrequest.ledger.manual import Actor, NewManualPayment
from payrequest.ledger.models import Allocation, Credit, ManualPayment
from payrequest.payment_requests.models import PaymentRequest, PaymentRequestInvoice
from payrequest.payment_requests.repository import invoices_in_active_requests
from payrequest.users import service as users
from tests.factories import make_customer, make_invoice


async def _user(session: AsyncSession, role: str, email: str | None = None) -> Actor:
    user = await users.create_user(
        session, email=email or f"{role}@example.no", password="correct horse", role=role
    )
    return Actor(user.id, role)


async def _record(
    session: AsyncSession,
    customer: Customer,
    amount: int,
    *,
    currency: str = "NOK",
    invoices: list[Invoice] | None = None,
    by: Actor | None = None,
    **extra: Any,
) -> manual.Recorded:
    return await manual.record(
        session,
        data=NewManualPayment(
            customer_id=customer.id,
            amount=Money(amount, currency),
            received_on=manual.business_today(),
            method=extra.pop("method", "bank_transfer"),
            reference=extra.pop("reference", "KID 1234567"),
            invoice_ids=None if invoices is None else tuple(i.id for i in invoices),
            recorded_by=by.user_id if by else None,
            **extra,
        ),
        in_requests=invoices_in_active_requests,
    )


async def _status(session: AsyncSession, *invoices: Invoice) -> list[tuple[InvoiceStatus, int]]:
    balances = await repository.invoice_balances(session, list(invoices))
    return [(balances[i.id].status, balances[i.id].open_amount) for i in invoices]


async def _events(session: AsyncSession) -> list[tuple[str, dict[str, Any]]]:
    await session.flush()
    rows = await session.execute(select(OutboxEvent).order_by(OutboxEvent.id))
    return [(e.name, e.payload) for e in rows.scalars() if not e.name.startswith("invoice.cre")]


async def _count(session: AsyncSession, model: type[Any]) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def busy_request(session: AsyncSession, customer: Customer, invoice: Invoice) -> None:
    """A payment request waiting for the customer, collecting `invoice`."""
    request = PaymentRequest(
        reference=f"busy-{invoice.id}",
        customer_id=customer.id,
        currency=invoice.currency,
        amount=invoice.total,
        description="test",
        origin="staff",
        status="pending",
        expires_at=utcnow() + timedelta(hours=1),
        invoice_links=[
            PaymentRequestInvoice(
                invoice_id=invoice.id, currency=invoice.currency, planned_amount=invoice.total
            )
        ],
    )
    session.add(request)
    await session.flush()


async def test_oldest_due_first_the_rest_becomes_credit_and_is_announced(
    session: AsyncSession,
) -> None:
    customer = await make_customer(session)
    newer = await make_invoice(session, customer, amount=50_000, due_in_days=5)
    older = await make_invoice(session, customer, amount=30_000, due_in_days=-10)
    staff = await _user(session, "staff")

    recorded = await _record(session, customer, 90_000, by=staff, reference=" KID 991 ")

    payment = recorded.payment
    assert (payment.method, payment.reference, payment.created_by_user_id) == (
        "bank_transfer",
        "KID 991",
        staff.user_id,
    )
    assert [(a.invoice_id, a.amount) for a in recorded.allocations] == [
        (older.id, 30_000),
        (newer.id, 50_000),
    ]
    assert all(a.manual_payment_id == payment.id for a in recorded.allocations)
    assert recorded.credit is not None
    assert (recorded.credit.amount, recorded.credit.manual_payment_id) == (10_000, payment.id)
    assert await _status(session, older, newer) == [
        (InvoiceStatus.paid, 0),
        (InvoiceStatus.paid, 0),
    ]
    [balance] = await service.balances(session, customer.id)
    assert (balance.open, balance.credit) == (0, 10_000)
    events = await _events(session)
    assert events[0] == (
        "manual_payment.recorded",
        {
            "amount": 90_000,
            "currency": "NOK",
            "method": "bank_transfer",
            "received_on": manual.business_today().isoformat(),
            "reference": "KID 991",
            "invoices": {str(older.id): 30_000, str(newer.id): 50_000},
            "credit": 10_000,
        },
    )
    assert sorted(name for name, _ in events[1:]) == [
        "credit.created",
        "invoice.paid",
        "invoice.paid",
    ]
    assert {"amount": 10_000, "currency": "NOK", "manual_payment": payment.id} in [
        p for _, p in events
    ]


async def test_chosen_invoices_only_and_partly_paid(session: AsyncSession) -> None:
    customer = await make_customer(session)
    older = await make_invoice(session, customer, amount=30_000, due_in_days=-10)
    newer = await make_invoice(session, customer, amount=50_000, due_in_days=5)

    recorded = await _record(session, customer, 20_000, invoices=[newer], method="cash")

    assert recorded.credit is None
    assert await _status(session, older, newer) == [
        (InvoiceStatus.open, 30_000),
        (InvoiceStatus.partially_paid, 30_000),
    ]


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"amount": Money(0, "NOK")}, ValidationFailed, "amount"),
        ({"method": "cheque"}, ValidationFailed, "method"),
        (
            {"received_on": manual.business_today() + timedelta(days=2)},
            ValidationFailed,
            "received_on",
        ),
        ({"reference": "x" * 101}, ValidationFailed, "reference"),
        ({"amount": Money(10_000, "DKK")}, CurrencyMismatch, "invoice_ids"),
        ({"invoice_ids": ()}, ValidationFailed, "invoice_ids"),
    ],
)
async def test_bad_input_is_refused_and_writes_nothing(
    session: AsyncSession, change: dict[str, Any], error: type[Exception], field: str
) -> None:
    customer = await make_customer(session)
    invoice = await make_invoice(session, customer, amount=30_000)
    data = NewManualPayment(
        customer_id=customer.id,
        amount=Money(10_000, "NOK"),
        received_on=manual.business_today(),
        method="bank_transfer",
        invoice_ids=(invoice.id,),
    )
    with pytest.raises(error) as raised:
        await manual.record(
            session,
            data=replace(data, **change),
            in_requests=invoices_in_active_requests,
        )
    assert getattr(raised.value, "field", None) == field
    assert (await _count(session, ManualPayment), await _count(session, Allocation)) == (0, 0)


async def test_an_invoice_a_request_is_collecting_is_refused_when_chosen_and_skipped_otherwise(
    session: AsyncSession,
) -> None:
    customer = await make_customer(session)
    busy = await make_invoice(session, customer, amount=30_000, due_in_days=-10)
    free = await make_invoice(session, customer, amount=50_000, due_in_days=5)
    await busy_request(session, customer, busy)

    with pytest.raises(Conflict) as refused:
        await _record(session, customer, 30_000, invoices=[busy])
    assert refused.value.code == "invoice_busy"

    recorded = await _record(session, customer, 60_000)
    assert [(a.invoice_id, a.amount) for a in recorded.allocations] == [(free.id, 50_000)]
    assert [i.id for i in recorded.skipped] == [busy.id]
    assert recorded.credit is not None and recorded.credit.amount == 10_000
    assert await _status(session, busy) == [(InvoiceStatus.open, 30_000)]


async def test_undo_reverses_voids_the_credit_and_a_second_undo_changes_nothing(
    session: AsyncSession,
) -> None:
    customer = await make_customer(session)
    older = await make_invoice(session, customer, amount=30_000, due_in_days=-10)
    newer = await make_invoice(session, customer, amount=50_000, due_in_days=5)
    owner = await _user(session, "owner")
    recorded = await _record(session, customer, 90_000)
    payment_id = recorded.payment.id

    undone = await manual.undo(
        session, payment_id=payment_id, actor=owner, reason=" Typed the wrong customer "
    )

    assert not undone.already
    assert sorted((r.invoice_id, r.amount, r.reversal) for r in undone.reversals) == sorted(
        [(older.id, -30_000, True), (newer.id, -50_000, True)]
    )
    assert all(r.manual_payment_id == payment_id for r in undone.reversals)
    given = {a.invoice_id: a.id for a in recorded.allocations}
    assert {r.reverses_allocation_id for r in undone.reversals} == set(given.values())
    assert all(r.reverses_allocation_id == given[r.invoice_id] for r in undone.reversals)
    assert undone.voided is not None and undone.voided.voided_at is not None
    payment = undone.payment
    assert payment.undone_at is not None
    assert (payment.undone_by_user_id, payment.undo_reason) == (
        owner.user_id,
        "Typed the wrong customer",
    )
    assert await _status(session, older, newer) == [
        (InvoiceStatus.open, 30_000),
        (InvoiceStatus.open, 50_000),
    ]
    [balance] = await service.balances(session, customer.id)
    assert (balance.open, balance.credit) == (80_000, 0)
    assert (await _events(session))[-1] == (
        "manual_payment.undone",
        {
            "amount": 90_000,
            "currency": "NOK",
            "reason": "Typed the wrong customer",
            "invoices": {str(older.id): -30_000, str(newer.id): -50_000},
            "credit_voided": 10_000,
        },
    )
    rows, events = await _count(session, Allocation), await _count(session, OutboxEvent)

    again = await manual.undo(session, payment_id=payment_id, actor=owner, reason="again")

    assert again.already and again.reversals == ()
    assert (await _count(session, Allocation), await _count(session, OutboxEvent)) == (rows, events)
    assert again.payment.undo_reason == "Typed the wrong customer"


async def test_undo_is_refused_while_its_credit_is_applied(session: AsyncSession) -> None:
    customer = await make_customer(session)
    await make_invoice(session, customer, amount=30_000, due_in_days=-10)
    owner = await _user(session, "owner")
    recorded = await _record(session, customer, 40_000)
    later = await make_invoice(session, customer, amount=5_000, due_in_days=20)
    await credits.apply_credit(
        session, customer_id=customer.id, currency="NOK", in_requests=invoices_in_active_requests
    )
    assert await _status(session, later) == [(InvoiceStatus.paid, 0)]
    rows = await _count(session, Allocation)

    with pytest.raises(Conflict) as refused:
        await manual.undo(session, payment_id=recorded.payment.id, actor=owner, reason="wrong")

    assert refused.value.code == "credit_used"
    assert refused.value.params["used"] == Money(5_000, "NOK")
    assert await _count(session, Allocation) == rows
    assert recorded.payment.undone_at is None


@pytest.mark.parametrize(
    ("who", "allowed"),
    [("owner", True), ("recorder", True), ("other staff", False), ("readonly", False)],
)
async def test_who_may_undo(session: AsyncSession, who: str, allowed: bool) -> None:
    customer = await make_customer(session)
    await make_invoice(session, customer, amount=30_000)
    recorder = await _user(session, "staff", "recorder@example.no")
    actors = {
        "owner": await _user(session, "owner"),
        "recorder": recorder,
        "other staff": await _user(session, "staff", "other@example.no"),
        "readonly": await _user(session, "readonly"),
    }
    recorded = await _record(session, customer, 10_000, by=recorder)
    assert manual.may_undo(actors[who], recorded.payment.created_by_user_id) is allowed
    if allowed:
        done = await manual.undo(
            session, payment_id=recorded.payment.id, actor=actors[who], reason="mistake"
        )
        assert done.payment.undone_at is not None
    else:
        with pytest.raises(Conflict) as refused:
            await manual.undo(
                session, payment_id=recorded.payment.id, actor=actors[who], reason="mistake"
            )
        assert refused.value.code == "not_allowed"
        assert recorded.payment.undone_at is None


async def test_undo_needs_a_reason(session: AsyncSession) -> None:
    customer = await make_customer(session)
    owner = await _user(session, "owner")
    recorded = await _record(session, customer, 10_000)
    with pytest.raises(ValidationFailed) as refused:
        await manual.undo(session, payment_id=recorded.payment.id, actor=owner, reason="  ")
    assert refused.value.field == "reason"


async def test_voided_credit_counts_nowhere(session: AsyncSession) -> None:
    customer = await make_customer(session)
    owner = await _user(session, "owner")
    recorded = await _record(session, customer, 10_000)  # no invoice: all credit
    assert recorded.credit is not None
    credit_id = recorded.credit.id
    assert await repository.credit_by_currency(session, customer.id) == {"NOK": 10_000}

    await manual.undo(session, payment_id=recorded.payment.id, actor=owner, reason="bounced")

    assert await repository.credit_by_currency(session, customer.id) == {}
    assert await repository.credit_available(session, credit_id) == 0
    summary = (
        await repository.customer_summaries(session, [customer.id], today=manual.business_today())
    )[customer.id]
    assert summary.credit == {}
    voided = await session.get(Credit, credit_id)
    assert voided is not None and voided.voided_at is not None
