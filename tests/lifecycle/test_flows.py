"""The whole payment flow over real HTTP against the emulator: our client -> emulator ->
signed webhook -> our server -> capture job -> paid and allocated."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.errors import Conflict, CurrencyMismatch, ValidationFailed
from payrequest.events.models import OutboxEvent
from payrequest.inbound.models import InboundEvent
from payrequest.invoices import repository as invoice_repo
from payrequest.invoices.status import InvoiceStatus
from payrequest.ledger import repository as ledger_repo
from payrequest.ledger import service as ledger
from payrequest.ledger.models import Allocation, Credit, Refund
from payrequest.payment_requests import repository, workflows
from payrequest.payment_requests.models import PaymentRequest, PaymentRequestEvent
from payrequest.payment_requests.service import Lifetime, retry_request
from payrequest.providers.base import OneProvider
from payrequest.providers.vipps.provider import VippsProvider
from tests.factories import make_customer, make_invoice
from tests.lifecycle.conftest import (
    Emulator,
    LiveServer,
    send_request,
    status_of,
    wait_for_status,
)

pytestmark = pytest.mark.usefixtures("webhook_ready")
Sessions = async_sessionmaker[AsyncSession]


async def _customer_with_invoices(sessions: Sessions, *amounts: int) -> tuple[int, list[int]]:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoices = [
            await make_invoice(session, customer, amount=amount, due_in_days=i * 5)
            for i, amount in enumerate(amounts)
        ]
        return customer.id, [i.id for i in invoices]


async def _names(sessions: Sessions, reference: str) -> list[str]:
    async with sessions() as session:
        request = await repository.by_reference(session, reference)
        assert request is not None
        stmt = (
            select(OutboxEvent.name)
            .where(
                OutboxEvent.aggregate_id == request.id,
                OutboxEvent.aggregate_type == "payment_request",
            )
            .order_by(OutboxEvent.id)
        )
        return list((await session.execute(stmt)).scalars())


async def test_approve_captures_and_splits_across_invoices(
    sessions: Sessions, provider: VippsProvider, emulator: Emulator, live: LiveServer
) -> None:
    customer_id, invoice_ids = await _customer_with_invoices(sessions, 30_000, 45_050)
    reference = await send_request(
        sessions, provider, customer_id=customer_id, invoice_ids=invoice_ids
    )
    assert await status_of(sessions, reference) == "pending"
    await emulator.approve(reference)
    await wait_for_status(sessions, reference, "paid")

    async with sessions() as session:
        request = await repository.by_reference(session, reference)
        assert request is not None
        assert (request.amount, request.captured_amount) == (75_050, 75_050)
        allocations = await ledger_repo.allocations_for_request(session, request.id)
        assert sorted((a.invoice_id, a.amount) for a in allocations) == sorted(
            zip(invoice_ids, [30_000, 45_050], strict=True)
        )
        [balance] = await ledger.balances(session, customer_id)
        assert balance.due.amount == 0
        links = await repository.links(session, request.id)
        assert not any(link.active for link in links)  # invoices are free again
        inbox = (await session.execute(select(InboundEvent.event_name))).scalars().all()
    assert {"created", "authorized"} <= set(inbox)
    assert await _names(sessions, reference) == [
        "payment_request.sending",  # written, before the provider has it
        "payment_request.created",
        "payment_request.authorized",
        "payment_request.paid",
    ]
    assert await emulator.events(reference) == ["CREATED", "AUTHORIZED", "CAPTURED"]


async def test_reject_then_retry_with_a_new_reference(
    sessions: Sessions, provider: VippsProvider, emulator: Emulator
) -> None:
    customer_id, invoice_ids = await _customer_with_invoices(sessions, 12_000)
    reference = await send_request(
        sessions, provider, customer_id=customer_id, invoice_ids=invoice_ids
    )
    await emulator.reject(reference)
    await wait_for_status(sessions, reference, "rejected")

    async with sessions() as session, session.begin():
        old = await repository.by_reference(session, reference)
        assert old is not None
        retry = await retry_request(
            session, request_id=old.id, lifetime=Lifetime(60, provider.capabilities)
        )
        assert retry.reference == f"{reference}-1"
        assert retry.retry_of_id == old.id
        new_reference = retry.reference
    await workflows.send(sessions, OneProvider(provider), reference=new_reference)
    await emulator.approve(new_reference)
    await wait_for_status(sessions, new_reference, "paid")
    assert await status_of(sessions, reference) == "rejected"


async def test_cancel_a_pending_request(
    sessions: Sessions, provider: VippsProvider, emulator: Emulator
) -> None:
    customer_id, invoice_ids = await _customer_with_invoices(sessions, 5_000)
    reference = await send_request(
        sessions, provider, customer_id=customer_id, invoice_ids=invoice_ids
    )
    async with sessions() as session:
        request = await repository.by_reference(session, reference)
        assert request is not None
    cancelled = await workflows.cancel(
        sessions, OneProvider(provider), request_id=request.id, user_id=None
    )
    assert cancelled.status == "cancelled"
    assert await emulator.events(reference) == ["CREATED", "TERMINATED"]
    with pytest.raises(Conflict, match="waiting for the customer"):
        await workflows.cancel(sessions, OneProvider(provider), request_id=request.id, user_id=None)
    # The invoice may be asked for again at once.
    again = await send_request(sessions, provider, customer_id=customer_id, invoice_ids=invoice_ids)
    assert await status_of(sessions, again) == "pending"


async def test_expiry_seen_in_seconds_with_the_fast_clock(
    sessions: Sessions, provider: VippsProvider, emulator: Emulator
) -> None:
    customer_id, invoice_ids = await _customer_with_invoices(sessions, 7_500)
    await emulator.faults(clock_speed=600.0)  # ten minutes pass in a second
    reference = await send_request(
        sessions,
        provider,
        customer_id=customer_id,
        invoice_ids=invoice_ids,
        phone=None,
        lifetime_minutes=10,
    )
    await wait_for_status(sessions, reference, "expired")
    assert "EXPIRED" in await emulator.events(reference)


async def test_an_invoice_in_a_waiting_request_cannot_be_asked_for_twice(
    sessions: Sessions, provider: VippsProvider
) -> None:
    customer_id, invoice_ids = await _customer_with_invoices(sessions, 9_900)
    await send_request(sessions, provider, customer_id=customer_id, invoice_ids=invoice_ids)
    with pytest.raises(Conflict, match="already has a payment request waiting"):
        await send_request(sessions, provider, customer_id=customer_id, invoice_ids=invoice_ids)


async def test_timeline_records_every_signal_once(
    sessions: Sessions, provider: VippsProvider, emulator: Emulator
) -> None:
    customer_id, invoice_ids = await _customer_with_invoices(sessions, 20_000)
    reference = await send_request(
        sessions, provider, customer_id=customer_id, invoice_ids=invoice_ids
    )
    await emulator.approve(reference)
    await wait_for_status(sessions, reference, "paid")
    await workflows.poll(
        sessions, OneProvider(provider), reference=reference
    )  # a late poll: no change
    async with sessions() as session:
        request = await repository.by_reference(session, reference)
        assert request is not None
        rows = (
            await session.execute(
                select(
                    PaymentRequestEvent.kind,
                    PaymentRequestEvent.to_status,
                    PaymentRequestEvent.provider_event,
                )
                .where(PaymentRequestEvent.payment_request_id == request.id)
                .order_by(PaymentRequestEvent.id)
            )
        ).all()
    changes = [to for kind, to, _ in rows if kind == "state_changed"]
    assert changes == ["sending", "pending", "authorized", "paid"]
    signals = [event for kind, _, event in rows if kind == "provider_signal"]
    assert len(signals) == len(set(signals))


async def test_overpayment_becomes_customer_credit(
    sessions: Sessions, provider: VippsProvider, emulator: Emulator
) -> None:
    """An invoice settled some other way after approval: capture anyway, excess to credit."""
    customer_id, invoice_ids = await _customer_with_invoices(sessions, 10_000, 4_000)
    reference = await send_request(
        sessions, provider, customer_id=customer_id, invoice_ids=invoice_ids
    )
    async with sessions() as session, session.begin():
        # The customer also paid 4 000 of the second invoice by bank transfer (a credit used).
        credit = Credit(customer_id=customer_id, currency="NOK", amount=4_000, reason="Bank")
        session.add(credit)
        await session.flush()
        session.add(
            Allocation(invoice_id=invoice_ids[1], currency="NOK", amount=4_000, credit_id=credit.id)
        )
    await emulator.approve(reference)
    await wait_for_status(sessions, reference, "paid")
    async with sessions() as session:
        request = await repository.by_reference(session, reference)
        assert request is not None
        allocations = await ledger_repo.allocations_for_request(session, request.id)
        overpaid = await ledger_repo.credit_for_request(session, request.id)
        count = (await session.execute(select(func.count(Credit.id)))).scalar_one()
        [balance] = await ledger.balances(session, customer_id)
    assert [(a.invoice_id, a.amount) for a in allocations] == [(invoice_ids[0], 10_000)]
    assert overpaid is not None and overpaid.amount == 4_000
    assert count == 2
    assert (balance.open, balance.credit) == (0, 4_000)


async def test_refund_of_a_paid_request_reopens_the_invoices(
    sessions: Sessions, provider: VippsProvider, emulator: Emulator, live: LiveServer
) -> None:
    from payrequest.payment_requests import refunds

    customer_id, invoice_ids = await _customer_with_invoices(sessions, 10_000, 6_000)
    reference = await send_request(
        sessions, provider, customer_id=customer_id, invoice_ids=invoice_ids
    )
    await emulator.approve(reference)
    await wait_for_status(sessions, reference, "paid")
    async with sessions() as session, session.begin():
        request = await repository.by_reference(session, reference)
        assert request is not None
        refund = await refunds.request_refund(session, payment_request_id=request.id, amount=7_000)
    await refunds.send_refund(sessions, OneProvider(provider), refund_id=refund.id)
    async with sessions() as session:
        stored = await session.get(Refund, refund.id)
        assert stored is not None and stored.status == "succeeded"
        rows = await ledger_repo.allocated_by_invoice(session, invoice_ids)
        request = await repository.by_reference(session, reference)
        assert request is not None
    # Newest due first: the 6 000 invoice reopens fully, 1 000 of the older one.
    assert rows == {invoice_ids[0]: 9_000, invoice_ids[1]: 0}
    assert request.status == "paid" and request.refunded_amount == 7_000
    async with sessions() as session, session.begin():
        rest = await refunds.request_refund(session, payment_request_id=request.id)
        assert rest.amount == 9_000
    await refunds.send_refund(sessions, OneProvider(provider), refund_id=rest.id)
    await wait_for_status(sessions, reference, "refunded")
    assert (await emulator.events(reference)).count("REFUNDED") == 2
    async with sessions() as session:
        invoices = await invoice_repo.many(session, invoice_ids)
        statuses = await ledger_repo.invoice_balances(session, invoices)
    assert {b.status for b in statuses.values()} == {InvoiceStatus.open}


async def test_refund_of_credit_pays_back_only_the_credit(
    sessions: Sessions, provider: VippsProvider, emulator: Emulator
) -> None:
    from payrequest.payment_requests import refunds

    customer_id, invoice_ids = await _customer_with_invoices(sessions, 10_000)
    reference = await send_request(
        sessions, provider, customer_id=customer_id, invoice_ids=invoice_ids
    )
    async with sessions() as session, session.begin():
        credit = Credit(customer_id=customer_id, currency="NOK", amount=2_500, reason="Bank")
        session.add(credit)
        await session.flush()
        session.add(
            Allocation(invoice_id=invoice_ids[0], currency="NOK", amount=2_500, credit_id=credit.id)
        )
    await emulator.approve(reference)
    await wait_for_status(sessions, reference, "paid")
    async with sessions() as session, session.begin():
        request = await repository.by_reference(session, reference)
        assert request is not None
        overpaid = await ledger_repo.credit_for_request(session, request.id)
        assert overpaid is not None and overpaid.amount == 2_500
        with pytest.raises(ValidationFailed, match=re.escape("At most NOK\u00a025.00 can be")):
            await refunds.refund_credit(session, credit_id=overpaid.id, amount=2_501)
    async with sessions() as session, session.begin():
        refund = await refunds.refund_credit(session, credit_id=overpaid.id)
    await refunds.send_refund(sessions, OneProvider(provider), refund_id=refund.id)
    async with sessions() as session:
        [balance] = await ledger.balances(session, customer_id)
        request = await repository.by_reference(session, reference)
        assert request is not None
    assert (balance.open, balance.credit) == (0, 0)
    assert request.status == "paid" and request.refunded_amount == 2_500


async def test_an_invoice_in_another_currency_than_the_sales_unit_takes_is_refused(
    sessions: Sessions, provider: VippsProvider
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session, phone="+4520123456", country="DK")
        invoice = await make_invoice(session, customer, amount=5_000, currency="DKK")
    with pytest.raises(CurrencyMismatch, match="only be taken in NOK; this invoice is in DKK"):
        await send_request(sessions, provider, customer_id=customer.id, invoice_ids=[invoice.id])
    async with sessions() as session:
        count = (await session.execute(select(func.count(PaymentRequest.id)))).scalar_one()
    assert count == 0


async def test_a_number_without_a_mobilepay_user_fails_with_a_plain_reason(
    sessions: Sessions, provider: VippsProvider
) -> None:
    customer_id, invoice_ids = await _customer_with_invoices(sessions, 3_000)
    reference = await send_request(
        sessions,
        provider,
        customer_id=customer_id,
        invoice_ids=invoice_ids,
        phone="+47 999 99 999",
    )
    async with sessions() as session:
        request = await repository.by_reference(session, reference)
        assert request is not None
        links = await repository.links(session, request.id)
    assert request.status == "failed"
    assert request.failure_code == "7010"
    assert request.failure_message == (
        "This phone number has no Vipps/MobilePay user who can pay businesses."
    )
    assert not any(link.active for link in links)  # the invoice can be asked for again
