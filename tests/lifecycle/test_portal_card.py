"""Paying by card from the portal, over real HTTP against the live server and the mounted
Stripe emulator: the pay form, the hosted checkout page, back to the portal; then a partial
refund through Stripe reopens an invoice."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.inbound.registrations import WebhookRegistration
from payrequest.invoices.models import Invoice
from payrequest.ledger import repository as ledger_repo
from payrequest.ledger.models import Allocation, Refund
from payrequest.payment_requests import refunds
from payrequest.payment_requests.models import PaymentRequest
from tests.factories import make_customer, make_invoice
from tests.integration.portal_helpers import sign_in, submit_pay
from tests.lifecycle.conftest import LiveServer, wait_for_status, wait_until

Sessions = async_sessionmaker[AsyncSession]
CHECKOUT = "/sandbox/stripe/pay/"


async def _stripe_webhook(sessions: Sessions) -> None:
    async def registered(session: AsyncSession) -> bool:
        stmt = select(WebhookRegistration.id).where(WebhookRegistration.provider == "stripe")
        return (await session.execute(stmt)).first() is not None

    await wait_until(sessions, registered, what="the Stripe webhook registration")


async def pay_on_checkout(page_url: str, number: str) -> httpx.Response:
    """Fill in the hosted page's card form as a browser does (no redirects followed)."""
    async with httpx.AsyncClient(timeout=15) as browser:
        page = await browser.get(page_url)
        assert page.status_code == 200, page.text
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert action is not None, page.text
        target = str(httpx.URL(page_url).join(action.group(1)))
        form = {
            "cardNumber": number,
            "cardExpiry": "12 / 34",
            "cardCvc": "123",
            "email": "kari@example.no",
        }
        return await browser.post(target, data=form)


async def test_two_invoices_paid_by_card_through_the_portal(
    live: LiveServer, sessions: Sessions
) -> None:
    await _stripe_webhook(sessions)
    async with sessions() as session, session.begin():
        customer = await make_customer(session, name="Kari Nordmann", phone="+4791234567")
        customer.portal_access = True
        customer.email = "kari@example.no"
        ids = [(await make_invoice(session, customer, amount=10_000 + n)).id for n in range(2)]
    async with httpx.AsyncClient(base_url=live.url, timeout=15) as http:
        await sign_in(http, sessions, customer.id)
        form = await http.get("/portal/pay", params=[("invoice_ids", i) for i in ids])
        assert 'value="card"' in form.text  # the first organisation takes cards
        chosen = await submit_pay(http, form.text, ids, method="card")
        assert chosen.status_code == 303, chosen.text
        checkout = chosen.headers["location"]
        assert checkout.startswith(f"{live.url}{CHECKOUT}cs_"), checkout
        async with sessions() as session:
            request = (await session.execute(select(PaymentRequest))).scalar_one()
        assert (request.provider, request.user_flow, request.status) == (
            "stripe",
            "redirect",
            "pending",
        )
        assert request.provider_reference == checkout.rsplit("/", 1)[1]

        paid = await pay_on_checkout(checkout, "4242 4242 4242 4242")
        assert paid.status_code == 303
        back = paid.headers["location"]
        assert back.startswith(f"{live.url}/portal/returned?reference={request.reference}")
        landed = await http.get(back)
        assert landed.status_code == 303
        assert landed.headers["location"] == f"/portal/payments/{request.reference}"
        await wait_for_status(sessions, request.reference, "paid")
        page = await http.get(landed.headers["location"])
        assert 'data-status="paid"' in page.text

    async with sessions() as session:
        invoices = list(
            (await session.execute(select(Invoice).where(Invoice.id.in_(ids)))).scalars()
        )
        balances = await ledger_repo.invoice_balances(session, invoices)
        allocations = (
            await session.execute(
                select(Allocation.invoice_id, Allocation.amount).where(
                    Allocation.payment_request_id == request.id
                )
            )
        ).all()
    assert all(balances[i].open_amount == 0 for i in ids)
    assert sorted(allocations) == sorted([(ids[0], 10_000), (ids[1], 10_001)])

    # Staff refund part of it: the job refunds through Stripe (the request's provider), the
    # allocation is reversed and an invoice is open again by exactly that much.
    async with sessions() as session, session.begin():
        refund = await refunds.request_refund(
            session, payment_request_id=request.id, amount=5_000, reason="Dent"
        )
        refund_id = refund.id

    async def refunded(session: AsyncSession) -> bool:
        found = await session.get(Refund, refund_id, populate_existing=True)
        return found is not None and found.status != "pending"

    await wait_until(sessions, refunded, what="the card refund")
    async with sessions() as session:
        done = await session.get(Refund, refund_id)
        assert done is not None and (done.status, done.failure_message) == ("succeeded", None)
        invoices = list(
            (await session.execute(select(Invoice).where(Invoice.id.in_(ids)))).scalars()
        )
        balances = await ledger_repo.invoice_balances(session, invoices)
        again = await session.get(PaymentRequest, request.id, populate_existing=True)
    assert sum(balances[i].open_amount for i in ids) == 5_000
    assert again is not None and again.refunded_amount == 5_000
