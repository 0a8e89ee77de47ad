"""Captured money split over invoices; excess becomes credit; balance recomputed from rows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.invoices.status import InvoiceStatus
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.ledger import repository, service
from payrequest.payment_requests.models import PaymentRequest
from tests.factories import make_customer, make_invoice


async def _request(session: AsyncSession, customer_id: int, amount: int) -> PaymentRequest:
    request = PaymentRequest(
        reference=f"ledger-{amount}-{customer_id}",
        customer_id=customer_id,
        currency="NOK",
        amount=amount,
        description="test",
        origin="staff",
        expires_at=utcnow() + timedelta(hours=1),
    )
    session.add(request)
    await session.flush()
    return request


async def test_split_oldest_first_with_excess_to_credit_and_balance(session: AsyncSession) -> None:
    customer = await make_customer(session)
    older = await make_invoice(session, customer, amount=30_000, due_in_days=-10)
    newer = await make_invoice(session, customer, amount=50_000, due_in_days=5)
    untouched = await make_invoice(session, customer, amount=7_000, due_in_days=20)
    [before] = await service.balances(session, customer.id)
    assert before.due == Money(87_000, "NOK")

    request = await _request(session, customer.id, 90_000)
    result = await service.allocate_payment(
        session,
        payment_request_id=request.id,
        customer_id=customer.id,
        amount=Money(90_000, "NOK"),
        invoice_ids=[newer.id, older.id],
    )
    assert not result.already_applied
    assert sorted((a.invoice_id, a.amount) for a in result.allocations) == sorted(
        [(older.id, 30_000), (newer.id, 50_000)]
    )
    assert result.credit is not None and result.credit.amount == 10_000

    statuses = await repository.invoice_balances(session, [older, newer, untouched])
    assert statuses[older.id].status is InvoiceStatus.paid
    assert statuses[newer.id].status is InvoiceStatus.paid
    assert statuses[untouched.id].status is InvoiceStatus.open
    [after] = await service.balances(session, customer.id)
    assert (after.open, after.credit) == (7_000, 10_000)
    assert after.due == Money(-3_000, "NOK")


async def test_applying_the_same_capture_twice_changes_nothing(session: AsyncSession) -> None:
    customer = await make_customer(session)
    invoice = await make_invoice(session, customer, amount=40_000)
    request = await _request(session, customer.id, 25_000)
    kwargs = {
        "payment_request_id": request.id,
        "customer_id": customer.id,
        "amount": Money(25_000, "NOK"),
        "invoice_ids": [invoice.id],
    }
    first = await service.allocate_payment(session, **kwargs)  # type: ignore[arg-type]
    second = await service.allocate_payment(session, **kwargs)  # type: ignore[arg-type]
    assert second.already_applied
    assert [a.id for a in second.allocations] == [a.id for a in first.allocations]
    balances = await repository.invoice_balances(session, [invoice])
    assert balances[invoice.id].status is InvoiceStatus.partially_paid
    assert balances[invoice.id].open_amount == 15_000


async def test_void_is_refused_once_money_is_allocated(session: AsyncSession) -> None:
    import pytest

    from payrequest.errors import Conflict

    customer = await make_customer(session)
    paid = await make_invoice(session, customer, amount=1_000)
    unpaid = await make_invoice(session, customer, amount=2_000)
    request = await _request(session, customer.id, 1_000)
    await service.allocate_payment(
        session,
        payment_request_id=request.id,
        customer_id=customer.id,
        amount=Money(1_000, "NOK"),
        invoice_ids=[paid.id],
    )
    with pytest.raises(Conflict, match="has payments on it"):
        await service.void_invoice(session, invoice_id=paid.id)
    voided = await service.void_invoice(session, invoice_id=unpaid.id)
    assert voided.voided_at is not None
    [balance] = await service.balances(session, customer.id)
    assert balance.open == 0  # the paid one is settled, the void one no longer counts
