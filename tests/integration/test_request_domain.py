"""Creating and retrying payment requests, on both databases: instalments planned oldest due
first, QR requests, the lifetime per flow, the description in the customer's language, and
retry only from the newest attempt (with another number or flow)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.errors import Conflict, ValidationFailed
from payrequest.kit.money import Money
from payrequest.ledger import repository as ledger_repo
from payrequest.payment_requests import apply, repository
from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request, retry_request
from payrequest.payment_requests.state import Status
from payrequest.payment_requests.workflows import _plan_send
from payrequest.providers.base import Capabilities, PaymentSnapshot, ProviderState, UserFlow
from tests.factories import make_customer, make_invoice

Sessions = async_sessionmaker[AsyncSession]
DAY = 24 * 60
DENMARK = Capabilities(long_living=True, max_lifetime_minutes=60 * DAY)
LIFETIME = Lifetime(DAY, DENMARK)


async def _pay(session: AsyncSession, request: PaymentRequest) -> None:
    """The customer approves and the whole amount is captured."""
    await apply.apply_outcome(
        session, reference=request.reference, target=Status.pending, source="system"
    )
    amount = Money(request.amount, request.currency)
    captured = PaymentSnapshot(
        request.reference, ProviderState.authorized, amount, request.amount, request.amount, 0, 0
    )
    await apply.apply_snapshot(session, snapshot=captured, source="poll")


async def _fail(session: AsyncSession, request: PaymentRequest) -> None:
    await apply.apply_outcome(
        session,
        reference=request.reference,
        target=Status.failed,
        source="system",
        failure=apply.Failure("7010", "No MobilePay user"),
    )


async def test_an_instalment_is_planned_oldest_due_first_and_leaves_the_rest_open(
    sessions: Sessions,
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        customer.locale = "en"
        later = await make_invoice(session, customer, amount=40_000, due_in_days=20, number="B-2")
        oldest = await make_invoice(session, customer, amount=30_000, due_in_days=5, number="A-1")
        untouched = await make_invoice(
            session, customer, amount=10_000, due_in_days=30, number="C-3"
        )
        request = await create_request(
            session,
            data=NewPaymentRequest(
                customer_id=customer.id,
                invoice_ids=[later.id, oldest.id, untouched.id],
                phone="+4791234567",
                amount=50_000,
            ),
            lifetime=LIFETIME,
        )
        assert request.amount == 50_000
        planned = {
            link.invoice_id: link.planned_amount
            for link in await repository.links(session, request.id)
        }
        assert planned == {oldest.id: 30_000, later.id: 20_000}  # C-3 is not reached
        assert request.description.startswith("Part payment of invoices A-1, B-2, first due")
        await _pay(session, request)
        balances = await ledger_repo.invoice_balances(session, [oldest, later, untouched])
        assert balances[oldest.id].status.value == "paid"
        assert balances[later.id].status.value == "partially_paid"
        assert balances[later.id].open_amount == 20_000
        assert balances[untouched.id].open_amount == 10_000
        # The rest of B-2 is asked for as "what remains", and C-3 can be asked for too.
        rest = await create_request(
            session,
            data=NewPaymentRequest(
                customer_id=customer.id, invoice_ids=[later.id], phone="+4791234567"
            ),
            lifetime=LIFETIME,
        )
        assert rest.amount == 20_000


@pytest.mark.parametrize("amount", [70_001, 0])
async def test_an_amount_above_what_is_open_or_not_above_zero_is_refused(
    sessions: Sessions, amount: int
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoice = await make_invoice(session, customer, amount=70_000)
        invoice_id, customer_id = invoice.id, customer.id
    with pytest.raises((ValidationFailed, ValidationError)) as refused:
        async with sessions() as session, session.begin():
            await create_request(
                session,
                data=NewPaymentRequest(
                    customer_id=customer_id,
                    invoice_ids=[invoice_id],
                    phone="+4791234567",
                    amount=amount,
                ),
                lifetime=LIFETIME,
            )
    if isinstance(refused.value, ValidationFailed):
        assert refused.value.code == "amount_over_open" and refused.value.field == "amount"
        assert "NOK" in refused.value.message
    async with sessions() as session:
        assert await repository.for_customer(session, customer_id) == []


async def test_a_request_without_a_number_is_a_qr_request_that_asks_for_the_number(
    sessions: Sessions,
) -> None:
    async with sessions() as session, session.begin():
        known = await make_customer(session)
        unknown = await make_customer(session, name="Uten Nummer")
        unknown.phone = None
        unknown.locale = "da"
        requests = []
        for customer in (known, unknown):
            invoice = await make_invoice(session, customer)
            requests.append(
                await create_request(
                    session,
                    data=NewPaymentRequest(customer_id=customer.id, invoice_ids=[invoice.id]),
                    lifetime=LIFETIME,
                )
            )
        with_number, without = requests
        assert with_number.user_flow == without.user_flow == UserFlow.qr.value
        assert with_number.phone is None and without.phone is None
        assert not with_number.share_phone  # the customer's number is on file
        assert without.share_phone
        assert without.description.startswith("Faktura ")  # the customer's language
        # Long-living: QR may have its own expiry.
        assert without.expires_at - without.created_at > timedelta(hours=23)
    plan = await _plan_send(sessions, without.reference, None, DENMARK)
    assert plan.create is not None
    assert plan.create.share_phone and plan.create.user_flow is UserFlow.qr
    assert plan.create.expires_at is not None


async def test_a_redirect_request_gets_the_standard_lifetime_and_no_expiry_on_the_wire(
    sessions: Sessions,
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoice = await make_invoice(session, customer)
        request = await create_request(
            session,
            data=NewPaymentRequest(
                customer_id=customer.id,
                invoice_ids=[invoice.id],
                user_flow=UserFlow.redirect,
                origin="portal",
            ),
            lifetime=LIFETIME,
        )
        assert request.expires_at - request.created_at <= timedelta(minutes=10, seconds=5)
    plan = await _plan_send(sessions, request.reference, "https://pay.example.no/r", DENMARK)
    assert plan.create is not None and plan.create.expires_at is None


async def test_a_chosen_lifetime_outside_the_bounds_writes_nothing(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoice = await make_invoice(session, customer)
        ids = (customer.id, invoice.id)
    norway = Lifetime(DAY, Capabilities(long_living=True, max_lifetime_minutes=DAY))
    with pytest.raises(ValidationFailed) as refused:
        async with sessions() as session, session.begin():
            await create_request(
                session,
                data=NewPaymentRequest(
                    customer_id=ids[0],
                    invoice_ids=[ids[1]],
                    phone="+4791234567",
                    lifetime_minutes=DAY,
                ),
                lifetime=norway,
            )
    assert refused.value.code == "lifetime_out_of_range"
    async with sessions() as session:
        assert await repository.for_customer(session, ids[0]) == []


async def test_only_the_newest_attempt_can_be_retried_with_another_number_or_flow(
    sessions: Sessions,
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoice = await make_invoice(session, customer)
        first = await create_request(
            session,
            data=NewPaymentRequest(
                customer_id=customer.id, invoice_ids=[invoice.id], phone="+4799999999"
            ),
            lifetime=LIFETIME,
        )
        await _fail(session, first)
        second = await retry_request(
            session, request_id=first.id, lifetime=LIFETIME, phone="+4791234567"
        )
        assert second.phone == "+4791234567" and second.user_flow == "push"
        await _fail(session, second)
        newest = await repository.newest_attempts(session, customer.id, [first, second])
        assert newest == {second.id}
        first_id, second_id = first.id, second.id
    with pytest.raises(Conflict) as refused:
        async with sessions() as session, session.begin():
            await retry_request(session, request_id=first_id, lifetime=LIFETIME)
    assert refused.value.code == "not_newest_attempt"
    assert second.reference in refused.value.message
    async with sessions() as session, session.begin():
        third = await retry_request(
            session, request_id=second_id, lifetime=LIFETIME, user_flow=UserFlow.qr
        )
        assert third.user_flow == "qr" and third.phone is None
        assert third.retry_of_id == first_id and third.attempt == 2
        assert third.reference.endswith("-2")


async def test_retrying_an_instalment_asks_for_the_same_amount(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoice = await make_invoice(session, customer, amount=90_000)
        first = await create_request(
            session,
            data=NewPaymentRequest(
                customer_id=customer.id,
                invoice_ids=[invoice.id],
                phone="+4791234567",
                amount=30_000,
                lifetime_minutes=7 * DAY,
            ),
            lifetime=LIFETIME,
        )
        await _fail(session, first)
        again = await retry_request(session, request_id=first.id, lifetime=LIFETIME)
        assert again.amount == 30_000
        kept = again.expires_at - again.created_at
        assert abs(kept - timedelta(days=7)) < timedelta(minutes=1)


async def test_a_card_payment_is_retried_as_one_and_never_as_a_push(sessions: Sessions) -> None:
    cards = Lifetime(DAY, Capabilities(push=False, qr=False, redirect=True), provider="stripe")
    async with sessions() as session, session.begin():
        customer = await make_customer(session, phone="+4791234567")
        invoice = await make_invoice(session, customer)
        first = await create_request(
            session,
            data=NewPaymentRequest(
                customer_id=customer.id, invoice_ids=[invoice.id], user_flow=UserFlow.redirect
            ),
            lifetime=cards,
        )
        await _fail(session, first)
        first_id = first.id
    for flow in (UserFlow.push, UserFlow.qr):
        with pytest.raises(ValidationFailed) as refused:
            async with sessions() as session, session.begin():
                await retry_request(session, request_id=first_id, lifetime=cards, user_flow=flow)
        assert refused.value.code == "flow_not_offered" and refused.value.field == "flow"
    async with sessions() as session, session.begin():
        again = await retry_request(session, request_id=first_id, lifetime=cards)
        assert (again.provider, again.user_flow, again.attempt) == ("stripe", "redirect", 1)
