"""Customer credit applied to open invoices: by staff (chosen invoices or oldest due first, up
to an amount) and automatically (the ledger's periodic job); never on an invoice a payment
request is collecting, never from a voided credit; refunds still work beside it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers.models import Customer
from payrequest.errors import Conflict, ValidationFailed
from payrequest.events.models import OutboxEvent
from payrequest.jobs.handlers import JobHandlers
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.ledger import credit as credits
from payrequest.ledger import jobs as ledger_jobs
from payrequest.ledger import manual, repository, service
from payrequest.ledger.manual import Actor, NewManualPayment
from payrequest.ledger.models import Credit
from payrequest.payment_requests import refunds
from payrequest.payment_requests.models import PaymentRequest, PaymentRequestInvoice
from payrequest.payment_requests.repository import invoices_in_active_requests
from payrequest.users import service as users
from tests.factories import make_customer, make_invoice
from tests.integration.test_manual_payments import busy_request


async def _credit(session: AsyncSession, customer: Customer, amount: int) -> Credit:
    """Credit from a manual payment made when nothing was open."""
    recorded = await manual.record(
        session,
        data=NewManualPayment(
            customer_id=customer.id,
            amount=Money(amount, "NOK"),
            received_on=manual.business_today(),
            method="bank_transfer",
        ),
        in_requests=invoices_in_active_requests,
    )
    assert recorded.credit is not None
    return recorded.credit


async def _open(session: AsyncSession, *invoices: object) -> list[int]:
    balances = await repository.invoice_balances(session, list(invoices))  # type: ignore[arg-type]
    return [balances[i.id].open_amount for i in invoices]  # type: ignore[attr-defined]


async def test_staff_apply_credit_oldest_due_first_and_it_is_announced(
    session: AsyncSession,
) -> None:
    customer = await make_customer(session)
    first = await _credit(session, customer, 6_000)
    second = await _credit(session, customer, 10_000)
    newer = await make_invoice(session, customer, amount=20_000, due_in_days=5)
    older = await make_invoice(session, customer, amount=8_000, due_in_days=-3)

    staff = await users.create_user(
        session, email="staff@example.no", password="correct horse", role="staff"
    )
    applied = await credits.apply_credit(
        session,
        customer_id=customer.id,
        currency="NOK",
        in_requests=invoices_in_active_requests,
        applied_by=staff.id,
    )

    assert applied.amount == Money(16_000, "NOK")
    assert [
        (a.credit_id, a.invoice_id, a.amount, a.created_by_user_id) for a in applied.allocations
    ] == [
        (first.id, older.id, 6_000, staff.id),
        (second.id, older.id, 2_000, staff.id),
        (second.id, newer.id, 8_000, staff.id),
    ]
    assert [i.id for i in applied.settled] == [older.id]
    assert await _open(session, older, newer) == [0, 12_000]
    [balance] = await service.balances(session, customer.id)
    assert (balance.open, balance.credit) == (12_000, 0)
    await session.flush()
    events = [
        (e.name, e.payload)
        for e in (await session.execute(select(OutboxEvent).order_by(OutboxEvent.id))).scalars()
        if e.name in ("credit.applied", "invoice.paid")
    ]
    assert events == [
        (
            "credit.applied",
            {
                "amount": 16_000,
                "currency": "NOK",
                "source": "staff",
                "by": staff.id,
                "invoices": {str(older.id): 8_000, str(newer.id): 8_000},
                "credits": {str(first.id): 6_000, str(second.id): 10_000},
                "allocations": [a.id for a in applied.allocations],
            },
        ),
        ("invoice.paid", {"number": older.number, "credit": True}),
    ]


async def test_staff_apply_part_of_the_credit_to_a_chosen_invoice(session: AsyncSession) -> None:
    customer = await make_customer(session)
    await _credit(session, customer, 10_000)
    older = await make_invoice(session, customer, amount=8_000, due_in_days=-3)
    newer = await make_invoice(session, customer, amount=20_000, due_in_days=5)

    await credits.apply_credit(
        session,
        customer_id=customer.id,
        currency="NOK",
        amount=4_000,
        invoice_ids=[newer.id],
        in_requests=invoices_in_active_requests,
    )

    assert await _open(session, older, newer) == [8_000, 16_000]
    assert await repository.credit_by_currency(session, customer.id) == {"NOK": 6_000}


@pytest.mark.parametrize(
    ("amount", "code", "field"),
    [
        (0, "validation_failed", "amount"),
        (10_001, "validation_failed", "amount"),
        (9_000, "validation_failed", "amount"),
    ],
)
async def test_more_than_is_available_or_open_is_refused(
    session: AsyncSession, amount: int, code: str, field: str
) -> None:
    customer = await make_customer(session)
    await _credit(session, customer, 10_000)
    invoice = await make_invoice(session, customer, amount=8_000)
    with pytest.raises(ValidationFailed) as refused:
        await credits.apply_credit(
            session,
            customer_id=customer.id,
            currency="NOK",
            amount=amount,
            invoice_ids=[invoice.id],
            in_requests=invoices_in_active_requests,
        )
    assert (refused.value.code, refused.value.field) == (code, field)
    assert await _open(session, invoice) == [8_000]


async def test_no_credit_and_nothing_open_are_clear_errors(session: AsyncSession) -> None:
    customer = await make_customer(session)
    invoice = await make_invoice(session, customer, amount=8_000)
    with pytest.raises(Conflict) as none:
        await credits.apply_credit(
            session,
            customer_id=customer.id,
            currency="NOK",
            in_requests=invoices_in_active_requests,
        )
    assert none.value.code == "no_credit"
    await _credit(session, customer, 10_000)  # pays the invoice, 2 000 left
    with pytest.raises(Conflict) as nothing:
        await credits.apply_credit(
            session,
            customer_id=customer.id,
            currency="NOK",
            in_requests=invoices_in_active_requests,
        )
    assert nothing.value.code == "nothing_open"
    assert await _open(session, invoice) == [0]


async def test_invoices_a_request_is_collecting_are_skipped(session: AsyncSession) -> None:
    customer = await make_customer(session)
    await _credit(session, customer, 10_000)
    busy = await make_invoice(session, customer, amount=8_000, due_in_days=-3)
    free = await make_invoice(session, customer, amount=20_000, due_in_days=5)
    await busy_request(session, customer, busy)
    with pytest.raises(Conflict) as chosen:
        await credits.apply_credit(
            session,
            customer_id=customer.id,
            currency="NOK",
            invoice_ids=[busy.id],
            in_requests=invoices_in_active_requests,
        )
    assert chosen.value.code == "invoice_busy"

    applied = await credits.apply_credit(
        session, customer_id=customer.id, currency="NOK", in_requests=invoices_in_active_requests
    )

    assert [a.invoice_id for a in applied.allocations] == [free.id]
    assert [i.id for i in applied.skipped] == [busy.id]
    assert await _open(session, busy, free) == [8_000, 10_000]


async def test_a_voided_credit_is_never_spent(session: AsyncSession) -> None:
    customer = await make_customer(session)
    credit = await _credit(session, customer, 10_000)
    credit.voided_at = utcnow()
    invoice = await make_invoice(session, customer, amount=8_000)
    with pytest.raises(Conflict):
        await credits.apply_credit(
            session,
            customer_id=customer.id,
            currency="NOK",
            in_requests=invoices_in_active_requests,
        )
    assert await credits.credit_to_place(session) == []
    assert await _open(session, invoice) == [8_000]


async def test_automatic_application_matches_new_invoices_and_waits_for_requests(
    session: AsyncSession,
) -> None:
    customer = await make_customer(session)
    other = await make_customer(session, name="Ola")
    await _credit(session, customer, 10_000)
    await make_invoice(session, other, amount=5_000)  # another customer's invoice: untouched
    busy = await make_invoice(session, customer, amount=3_000, due_in_days=-9)
    new = await make_invoice(session, customer, amount=4_000, due_in_days=3)
    await busy_request(session, customer, busy)

    assert await credits.credit_to_place(session) == [(customer.id, "NOK")]
    assert (
        await ledger_jobs.apply_credit_everywhere(session, in_requests=invoices_in_active_requests)
        == 1
    )

    assert await _open(session, busy, new) == [3_000, 0]
    links = (await session.execute(select(PaymentRequestInvoice))).scalars().all()
    for link in links:
        link.active = False  # the request ended
    await session.flush()
    assert (
        await ledger_jobs.apply_credit_everywhere(session, in_requests=invoices_in_active_requests)
        == 1
    )
    assert await _open(session, busy) == [0]
    assert await repository.credit_by_currency(session, customer.id) == {"NOK": 3_000}
    assert await credits.credit_to_place(session) == []
    events = (
        (await session.execute(select(OutboxEvent).where(OutboxEvent.name == "credit.applied")))
        .scalars()
        .all()
    )
    assert [e.payload["source"] for e in events] == ["automatic", "automatic"]


async def test_a_manual_payments_leftover_is_applied_at_once_when_asked(
    session: AsyncSession,
) -> None:
    customer = await make_customer(session)
    chosen = await make_invoice(session, customer, amount=5_000, due_in_days=9)
    other = await make_invoice(session, customer, amount=4_000, due_in_days=1)
    recorded = await manual.record(
        session,
        data=NewManualPayment(
            customer_id=customer.id,
            amount=Money(7_000, "NOK"),
            received_on=manual.business_today(),
            method="cash",
            invoice_ids=(chosen.id,),
        ),
        in_requests=invoices_in_active_requests,
        auto_apply=True,
    )
    assert recorded.applied is not None and recorded.applied.amount == Money(2_000, "NOK")
    assert await _open(session, chosen, other) == [0, 2_000]


def test_the_job_is_always_installed_each_organisation_chooses() -> None:
    handlers = JobHandlers()
    ledger_jobs.install(handlers, in_requests=invoices_in_active_requests)
    assert [p.kind for p in handlers.periodic_specs] == [ledger_jobs.AUTO_APPLY_JOB]
    assert ledger_jobs.AUTO_APPLY_ONE_JOB in handlers


# --- Refunds beside voided credits and reversal rows ------------------------------------------


async def _paid_request(session: AsyncSession, customer: Customer, amount: int) -> PaymentRequest:
    invoice = await make_invoice(session, customer, amount=6_000)
    request = PaymentRequest(
        reference=f"refund-{customer.id}",
        customer_id=customer.id,
        currency="NOK",
        amount=amount,
        captured_amount=amount,
        description="test",
        origin="staff",
        status="paid",
        expires_at=utcnow() + timedelta(hours=1),
        invoice_links=[
            PaymentRequestInvoice(
                invoice_id=invoice.id, currency="NOK", planned_amount=6_000, active=False
            )
        ],
    )
    session.add(request)
    await session.flush()
    await service.allocate_payment(
        session,
        payment_request_id=request.id,
        customer_id=customer.id,
        amount=Money(amount, "NOK"),
        invoice_ids=[invoice.id],
    )
    return request


async def test_refunds_work_beside_applied_credit_and_flag_their_reversals(
    session: AsyncSession,
) -> None:
    customer = await make_customer(session)
    request = await _paid_request(session, customer, 10_000)  # 6 000 paid, 4 000 credit
    later = await make_invoice(session, customer, amount=1_000, due_in_days=30)
    await credits.apply_credit(
        session, customer_id=customer.id, currency="NOK", in_requests=invoices_in_active_requests
    )  # 1 000 of the credit applied, 3 000 left

    credit_id, from_credit = await service.plan_refund(
        session, payment_request_id=request.id, amount=5_000
    )
    assert credit_id is not None and from_credit == 3_000
    refund = await refunds.request_refund(session, payment_request_id=request.id, amount=5_000)
    assert (refund.credit_id, refund.credit_amount) == (credit_id, 3_000)
    refund.status = "succeeded"
    reversals = await service.reverse_allocations(session, refund=refund)
    assert [(r.amount, r.reversal, r.refund_id) for r in reversals] == [(-2_000, True, refund.id)]
    assert await repository.credit_by_currency(session, customer.id) == {}
    assert await _open(session, later) == [0]
    with pytest.raises(ValidationFailed):
        await refunds.refund_credit(session, credit_id=credit_id, amount=1)


async def test_a_manual_payments_credit_cannot_be_refunded_through_the_provider(
    session: AsyncSession,
) -> None:
    customer = await make_customer(session)
    credit = await _credit(session, customer, 10_000)
    with pytest.raises(Conflict):
        await refunds.refund_credit(session, credit_id=credit.id)
    owner = await users.create_user(
        session, email="owner@example.no", password="correct horse", role="owner"
    )
    await manual.undo(
        session,
        payment_id=credit.manual_payment_id or 0,
        actor=Actor(owner.id, "owner"),
        reason="bounced",
    )
    assert await repository.credit_available(session, credit.id) == 0
    with pytest.raises(Conflict):
        await refunds.refund_credit(session, credit_id=credit.id)
