"""The commands (payrequest.commands) on both databases. Payment requests, with the fake
provider as the organisation's own: what each does at the provider and here, what it returns,
that it wakes its caller's worker once it has committed, and that the staff form, which calls
the same command, makes the same request. Manual payments: an amount typed or in minor units,
and which "not found" is about the call itself."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.app import create_app
from payrequest.commands import ledger, portal
from payrequest.commands import payment_requests as commands
from payrequest.commands.missing import Missing
from payrequest.config import load_settings
from payrequest.customers import repository as customers
from payrequest.errors import Conflict, NotFound, PayrequestError, ValidationFailed
from payrequest.invoices import repository as invoices
from payrequest.ledger.models import Refund
from payrequest.payment_requests import repository, workflows
from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.providers.base import UserFlow
from payrequest.providers.fake.provider import FakeProvider
from payrequest.runtime import Runtime, build_runtime
from tests.factories import TODAY, make_customer, make_invoice
from tests.staff import BASE, create_staff, csrf_of, sign_in

Sessions = async_sessionmaker[AsyncSession]


@dataclass
class Woken:
    """A `wake` that counts its calls."""

    times: int = 0

    def __call__(self) -> None:
        self.times += 1


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Runtime, FakeProvider]]:
    fake = FakeProvider()
    settings = load_settings(database_url=database_url, var_dir=tmp_path, public_url=BASE)
    runtime = build_runtime(settings, provider=fake)
    yield runtime, fake
    await runtime.close()


async def _invoice(sessions: Sessions, amount: int = 40_000, phone: str = "+47 912 34 567") -> int:
    async with sessions() as session, session.begin():
        customer = await make_customer(session, phone=phone)
        return (await make_invoice(session, customer, amount=amount)).id


async def _new(sessions: Sessions, amount: int = 40_000) -> NewPaymentRequest:
    invoice_id = await _invoice(sessions, amount)
    async with sessions() as session:
        [invoice] = await invoices.many(session, [invoice_id])
    return NewPaymentRequest(
        customer_id=invoice.customer_id, invoice_ids=[invoice_id], user_flow=UserFlow.qr
    )


async def _count(sessions: Sessions) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count(PaymentRequest.id)))).scalar_one())


async def test_create_and_send_writes_commits_sends_and_wakes_once(
    sessions: Sessions, world: tuple[Runtime, FakeProvider]
) -> None:
    runtime, fake = world
    woken = Woken()
    runtime.wake = woken
    sent = await commands.create_and_send(runtime, await _new(sessions))
    assert (sent.status, sent.provider, sent.refused, sent.waiting) == (
        "pending",
        "fake",
        False,
        None,
    )
    assert sent.redirect_url and sent.redirect_url.startswith("https://fake-provider.invalid/")
    assert woken.times == 1
    assert fake.calls.count("create") == 1
    async with sessions() as session:
        stored = await repository.by_reference(session, sent.reference)
    assert stored is not None and (stored.id, stored.amount) == (sent.id, 40_000)


async def test_a_refusal_and_a_wait_come_back_in_the_result(
    sessions: Sessions, world: tuple[Runtime, FakeProvider]
) -> None:
    runtime, fake = world
    fake.fail_next("declined", operation="create")
    refused = await commands.create_and_send(runtime, await _new(sessions))
    assert refused.refused and refused.status == "failed"
    fake.fail_next("rate_limited", operation="create")
    held = await commands.create_and_send(runtime, await _new(sessions))
    assert not held.refused and held.waiting is not None and held.status == "sending"


async def test_bad_input_writes_nothing_and_calls_no_provider(
    sessions: Sessions, world: tuple[Runtime, FakeProvider]
) -> None:
    runtime, fake = world
    data = await _new(sessions)
    before = await _count(sessions)
    with pytest.raises(ValidationFailed) as unknown:
        await commands.create_and_send(runtime, data.model_copy(update={"provider": "paypal"}))
    assert unknown.value.field == "provider"
    with pytest.raises(ValidationFailed) as flow:  # a card payment is a redirect
        await commands.create_and_send(runtime, data, card=True)
    assert flow.value.code == "flow_not_available"
    with pytest.raises(ValidationFailed):  # a push needs a number
        push = data.model_copy(update={"user_flow": UserFlow.push, "phone": None})
        await commands.create_and_send(runtime, push)
    assert await _count(sessions) == before
    assert "create" not in fake.calls


async def test_cancel_then_retry_then_the_old_attempt_cannot_be_retried_again(
    sessions: Sessions, world: tuple[Runtime, FakeProvider]
) -> None:
    runtime, fake = world
    first = await commands.create_and_send(runtime, await _new(sessions))
    woken = Woken()
    runtime.wake = woken
    cancelled = await commands.cancel(runtime, request_id=first.id, user_id=None)
    assert (cancelled.id, cancelled.status, woken.times) == (first.id, "cancelled", 1)
    assert fake.calls.count("cancel") == 1
    with pytest.raises(Conflict):  # it is no longer waiting for the customer
        await commands.cancel(runtime, request_id=first.id)

    again = await commands.retry(runtime, request_id=first.id)
    assert again.reference != first.reference and again.status == "pending"
    assert (again.customer_id, woken.times) == (first.customer_id, 2)
    with pytest.raises(Conflict) as older:  # only the newest attempt of a chain is retried
        await commands.retry(runtime, request_id=first.id)
    assert older.value.code == "not_newest_attempt"


async def test_refund_as_typed_in_the_requests_currency_or_in_minor_units(
    sessions: Sessions, world: tuple[Runtime, FakeProvider]
) -> None:
    runtime, fake = world
    sent = await commands.create_and_send(runtime, await _new(sessions, amount=50_000))
    fake.approve(sent.reference)
    await workflows.poll(runtime.sessions, runtime.providers, reference=sent.reference)
    await workflows.capture(runtime.sessions, runtime.providers, reference=sent.reference)
    woken = Woken()
    runtime.wake = woken
    typed = await commands.refund(runtime, request_id=sent.id, amount="100,50", reason="Too much")
    assert (typed.amount, typed.currency, typed.status, woken.times) == (
        10_050,
        "NOK",
        "succeeded",
        1,
    )
    rest = await commands.refund(runtime, request_id=sent.id, amount=None)
    assert rest.amount == 50_000 - 10_050 and rest.status == "succeeded"
    with pytest.raises(ValidationFailed):  # nothing left to refund
        await commands.refund(runtime, request_id=sent.id, amount=1)
    with pytest.raises(Missing):
        await commands.refund(runtime, request_id=sent.id + 1000, amount=1)
    async with sessions() as session:
        refunds = (await session.execute(select(Refund.amount))).scalars().all()
    assert sorted(refunds) == [10_050, 39_950]


async def test_the_portals_pay_counts_each_attempt_and_a_refusal_leaves_no_trace(
    sessions: Sessions, world: tuple[Runtime, FakeProvider]
) -> None:
    runtime, _fake = world
    invoice_id = await _invoice(sessions)
    async with sessions() as session:
        [invoice] = await invoices.many(session, [invoice_id])
        customer = await customers.get(session, invoice.customer_id)
    assert customer is not None
    payment = portal.Payment(
        customer=customer, address="192.0.2.7", invoice_ids=[invoice_id], method="qr"
    )
    with pytest.raises(PayrequestError):  # no such way to pay: refused before anything
        await portal.pay(runtime, portal.Payment(customer, "192.0.2.7", [invoice_id], "fax"))
    sent = await portal.pay(runtime, payment)
    assert sent.status == "pending" and sent.customer_id == customer.id
    with pytest.raises(Conflict) as busy:  # the invoice is in a waiting request now
        await portal.pay(runtime, payment)
    assert busy.value.code == "invoice_busy"
    with pytest.raises(Missing):  # another customer's reference is not theirs
        await portal.retry(
            runtime, customer_id=customer.id + 1000, address="192.0.2.7", reference=sent.reference
        )


# --- The staff form calls the same command --------------------------------------------------


@pytest.fixture
async def staff(
    world: tuple[Runtime, FakeProvider], sessions: Sessions
) -> AsyncIterator[httpx.AsyncClient]:
    runtime, _fake = world
    await create_staff(sessions, roles=("staff",))
    app: FastAPI = create_app(runtime.settings, runtime=runtime, run_worker=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        await sign_in(client, "staff")
        yield client


async def _shape(sessions: Sessions, reference: str) -> tuple[object, ...]:
    async with sessions() as session:
        stored = await repository.by_reference(session, reference)
    assert stored is not None
    return (stored.status, stored.provider, stored.user_flow, stored.amount, stored.currency)


async def test_the_staff_form_and_the_command_make_the_same_request(
    sessions: Sessions, world: tuple[Runtime, FakeProvider], staff: httpx.AsyncClient
) -> None:
    runtime, fake = world
    by_command = await commands.create_and_send(runtime, await _new(sessions))

    invoice_id = await _invoice(sessions)
    async with sessions() as session:
        [invoice] = await invoices.many(session, [invoice_id])
    card = await staff.get(f"/customers/{invoice.customer_id}")
    sent = await staff.post(
        f"/customers/{invoice.customer_id}/requests",
        data={"csrf": csrf_of(card.text), "invoice_ids": str(invoice_id), "flow": "qr"},
    )
    assert sent.status_code == 303
    page = html.unescape((await staff.get(sent.headers["location"])).text)
    assert "Payment request sent." in page
    async with sessions() as session:
        [link] = await repository.active_for_invoices(session, [invoice_id])
        by_form = await repository.get(session, link.payment_request_id)
    assert by_form is not None and by_form.origin == "staff"
    assert await _shape(sessions, by_form.reference) == await _shape(sessions, by_command.reference)
    assert fake.calls.count("create") == 2

    cancelled = await staff.post(f"/requests/{by_form.id}/cancel", data={"csrf": csrf_of(page)})
    assert cancelled.status_code == 303
    assert re.search(r"Request cancelled\.", (await staff.get(cancelled.headers["location"])).text)
    assert (await _shape(sessions, by_form.reference))[0] == "cancelled"


# --- Ledger commands: in the caller's transaction ---------------------------------------------


async def test_manual_payment_typed_or_in_minor_units_and_which_not_found_is_missing(
    sessions: Sessions,
) -> None:
    first, second = await _invoice(sessions), await _invoice(sessions)
    async with sessions() as session, session.begin():
        [one, two] = await invoices.many(session, [first, second])
        typed = await ledger.record_payment(
            session,
            ledger.PaymentReceived(one.customer_id, "250,50", TODAY, "bank_transfer"),
        )
        minor = await ledger.record_payment(
            session,
            ledger.PaymentReceived(two.customer_id, 25_050, TODAY, "bank_transfer", "NOK"),
        )
    for recorded in (typed, minor):
        assert (recorded.payment.amount, recorded.payment.currency) == (25_050, "NOK")
        assert [a.amount for a in recorded.allocations] == [25_050]
    async with sessions() as session, session.begin():
        with pytest.raises(Missing):  # the customer the call is about: "not found" for it all
            await ledger.record_payment(
                session, ledger.PaymentReceived(one.customer_id + 1000, 100, TODAY, "cash")
            )
        with pytest.raises(NotFound) as invoice:  # a chosen invoice: an error in the input
            await ledger.record_payment(
                session,
                ledger.PaymentReceived(
                    one.customer_id, 100, TODAY, "cash", invoice_ids=(second + 1000,)
                ),
            )
        assert not isinstance(invoice.value, Missing)
