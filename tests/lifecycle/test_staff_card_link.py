"""Staff send a card payment link from the customer card, over real HTTP against the live
server and the mounted emulators: the link reaches the customer's phone by SMS at once, and
paying on the hosted checkout page it opens makes the request paid."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.inbound.registrations import WebhookRegistration
from payrequest.payment_requests.models import PaymentRequest
from tests.factories import make_customer, make_invoice
from tests.lifecycle.conftest import SANDBOX, LiveServer, wait_for_status, wait_until
from tests.lifecycle.test_portal_card import CHECKOUT, pay_on_checkout
from tests.staff import create_staff, csrf_of, sign_in

Sessions = async_sessionmaker[AsyncSession]
PHONE = "4791234567"


@pytest.fixture
async def http(live: LiveServer, sessions: Sessions) -> AsyncIterator[httpx.AsyncClient]:
    await create_staff(sessions, roles=("staff",), locale="en")
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        await sign_in(client)
        yield client


async def _stripe_webhook(sessions: Sessions) -> None:
    async def registered(session: AsyncSession) -> bool:
        stmt = select(WebhookRegistration.id).where(WebhookRegistration.provider == "stripe")
        return (await session.execute(stmt)).first() is not None

    await wait_until(sessions, registered, what="the Stripe webhook registration")


def _flashes(page: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r'<p class="flash[^"]*"[^>]*>([^<]*)</p>', page)]


async def _inbox(http: httpx.AsyncClient, live: LiveServer) -> list[dict[str, str]]:
    found = await http.get(f"{SANDBOX}/phone/{PHONE}/sms", cookies=live.emulator_cookies)
    assert found.status_code == 200, found.text
    inbox: list[dict[str, str]] = found.json()
    return inbox


async def test_staff_send_a_card_link_by_sms_and_paying_it_makes_the_request_paid(
    http: httpx.AsyncClient, live: LiveServer, sessions: Sessions
) -> None:
    await _stripe_webhook(sessions)
    async with sessions() as session, session.begin():
        customer = await make_customer(session, name="Kari Nordmann", phone=f"+{PHONE}")
        customer.locale = "nb"
        invoice = await make_invoice(session, customer, amount=25_000)
        customer_id, invoice_id = customer.id, invoice.id

    card = await http.get(f"/customers/{customer_id}")
    assert 'name="flow" value="card"' in card.text  # the first organisation takes cards
    data = {"csrf": csrf_of(card.text), "invoice_ids": [str(invoice_id)], "flow": "card"}
    sent = await http.post(f"/customers/{customer_id}/requests", data=data)
    assert sent.status_code == 303, sent.text
    assert _flashes((await http.get(sent.headers["location"])).text) == [
        "Payment request sent.",
        "Payment link sent by SMS.",
    ]
    async with sessions() as session:
        request = (await session.execute(select(PaymentRequest))).scalar_one()
    assert (request.provider, request.user_flow, request.status) == (
        "stripe",
        "redirect",
        "pending",
    )
    checkout = request.redirect_url or ""
    assert checkout.startswith(f"{live.url}{CHECKOUT}cs_"), checkout

    (sms,) = await _inbox(http, live)
    assert f"Betal med kort: {checkout} (åpne den innen " in sms["text"]
    # The button on the waiting request sends the same message once (same key).
    again = await http.post(
        f"/requests/{request.id}/link", data={"csrf": csrf_of(card.text), "channel": "sms"}
    )
    assert _flashes((await http.get(again.headers["location"])).text) == [
        "Payment link sent by SMS."
    ]
    assert len(await _inbox(http, live)) == 1

    link = re.search(r"https?://\S+", sms["text"])
    assert link is not None and link.group(0) == checkout
    paid = await pay_on_checkout(link.group(0), "4242 4242 4242 4242")
    assert paid.status_code == 303
    await wait_for_status(sessions, request.reference, "paid")
    page = (await http.get(f"/customers/{customer_id}")).text
    assert "data-card-link" not in page  # paid: no link left to send
