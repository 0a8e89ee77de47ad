"""Staff send a card payment link from the customer card: the choice is there only when the
organisation takes card payments, a forged choice without a card provider is refused (creating
nothing), the request goes through the card provider with its lifetime, and a waiting card
payment's link goes to the customer in their language. On SQLite and PostgreSQL.

The app runs in-process without the Stripe emulator: a send finds nobody at the address it is
given, so a request sent through the form stays `sending` (its job would send it later)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.db.scope import acting_for
from payrequest.payment_requests import apply
from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.payment_requests.state import Status
from payrequest.providers.base import UserFlow
from payrequest.providers.stripe.provider import CAPABILITIES as CARD
from tests.conftest import TEST_ORGANISATION
from tests.factories import make_customer, make_invoice
from tests.mailbox import Mailbox
from tests.staff import built_app, create_staff, csrf_of, sign_in

Sessions = async_sessionmaker[AsyncSession]
# Nobody listens there: a send fails at once (and is left to its job).
NOWHERE = {"api_base": "http://127.0.0.1:9/stripe", "timeout_seconds": 0.5}
CHECKOUT = "https://checkout.example/pay/cs_test_1"


@pytest.fixture
async def app(
    database_url: str, sessions: Sessions, tmp_path: Path, mailbox_server: tuple[Mailbox, int]
) -> AsyncIterator[FastAPI]:
    await create_staff(sessions, roles=("staff",))
    smtp = {"host": "127.0.0.1", "port": mailbox_server[1], "starttls": False}
    async with built_app(
        database_url, tmp_path, run_worker=False, stripe=NOWHERE, smtp=smtp
    ) as app:
        yield app


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await sign_in(client, "staff")
        yield client


async def _customer(
    sessions: Sessions, *, locale: str = "nb", phone: str | None = None, email: str | None = None
) -> tuple[int, int]:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        customer.locale, customer.phone, customer.email = locale, phone, email
        invoice = await make_invoice(session, customer, amount=40_000)
        return customer.id, invoice.id


async def _requests(sessions: Sessions) -> list[PaymentRequest]:
    async with sessions() as session:
        stmt = select(PaymentRequest).order_by(PaymentRequest.id)
        return list((await session.execute(stmt)).scalars())


def _flashes(page: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r'<p class="flash[^"]*"[^>]*>([^<]*)</p>', page)]


async def _send_card(http: httpx.AsyncClient, customer_id: int, invoice_id: int) -> list[str]:
    card = await http.get(f"/customers/{customer_id}")
    data = {"csrf": csrf_of(card.text), "invoice_ids": [str(invoice_id)], "flow": "card"}
    sent = await http.post(f"/customers/{customer_id}/requests", data=data)
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == f"/customers/{customer_id}"
    return _flashes((await http.get(sent.headers["location"])).text)


async def test_the_card_link_choice_sends_a_card_request_with_the_card_lifetime(
    app: FastAPI, http: httpx.AsyncClient, sessions: Sessions
) -> None:
    customer_id, invoice_id = await _customer(sessions, phone="+4791234567")
    page = (await http.get(f"/customers/{customer_id}")).text
    assert 'name="flow" value="card"' in page and "Card payment link" in page
    assert await _send_card(http, customer_id, invoice_id) == ["Payment request sent."]
    (request,) = await _requests(sessions)
    assert (request.provider, request.user_flow, request.origin) == ("stripe", "redirect", "staff")
    assert request.phone is None and request.status == "sending"  # no payment page (yet)
    with acting_for(TEST_ORGANISATION):
        minutes = await app.state.runtime.directory.lifetime_minutes(TEST_ORGANISATION)
    expected = Lifetime(minutes, CARD).default_for(UserFlow.redirect)
    assert abs((request.expires_at - request.created_at) - expected) < timedelta(seconds=5)


async def test_without_a_card_provider_there_is_no_choice_and_a_forged_one_is_refused(
    app: FastAPI, http: httpx.AsyncClient, sessions: Sessions
) -> None:
    app.state.runtime.directory.card = None  # an installation that takes no card payments
    customer_id, invoice_id = await _customer(sessions, phone="+4791234567")
    page = (await http.get(f"/customers/{customer_id}")).text
    assert 'name="flow" value="push"' in page  # the send form, without cards:
    assert 'name="flow" value="card"' not in page and "Card payment link" not in page
    assert await _send_card(http, customer_id, invoice_id) == [
        "This organisation takes no card payments: choose another way to pay"
    ]
    assert await _requests(sessions) == []


async def _waiting_card_request(sessions: Sessions, customer_id: int, invoice_id: int) -> int:
    """A card payment the provider accepted: waiting, with its payment page."""
    async with sessions() as session, session.begin():
        request = await create_request(
            session,
            data=NewPaymentRequest(
                customer_id=customer_id,
                invoice_ids=[invoice_id],
                user_flow=UserFlow.redirect,
                origin="staff",
                provider="stripe",
            ),
            lifetime=Lifetime(60, CARD, provider="stripe"),
        )
        request.status, request.redirect_url = Status.pending, CHECKOUT
        return request.id


@pytest.mark.parametrize(
    ("locale", "wording"),
    [
        ("nb", f"Betal med kort: {CHECKOUT} (åpne den innen "),
        ("da", f"Betal med kort: {CHECKOUT} (åbn det senest "),
        ("en", f"Pay by card: {CHECKOUT} (open it by "),
    ],
)
async def test_a_card_payments_link_goes_to_the_customer_in_their_language(
    http: httpx.AsyncClient, sessions: Sessions, mailbox: Mailbox, locale: str, wording: str
) -> None:
    customer_id, invoice_id = await _customer(sessions, locale=locale, email="kari@example.no")
    request_id = await _waiting_card_request(sessions, customer_id, invoice_id)
    card = (await http.get(f"/customers/{customer_id}")).text
    row = card.split("data-card-link", 1)[1].split("</tr>", 1)[0]
    assert html.escape(CHECKOUT) in row and "Send the payment link by email" in row
    assert 'class="qr"' not in card  # a card payment has no QR code
    detail = (await http.get(f"/requests/{request_id}")).text
    assert "data-card-link" in detail and html.escape(CHECKOUT) in detail

    sent = await http.post(
        f"/requests/{request_id}/link", data={"csrf": csrf_of(card), "channel": "email"}
    )
    assert sent.status_code == 303
    assert _flashes((await http.get(sent.headers["location"])).text) == [
        "Payment link sent by email."
    ]
    text = mailbox.last_text()
    assert wording in text and "MobilePay" not in text
    assert mailbox.received[-1]["To"] == "kari@example.no"


async def test_a_failed_card_payment_is_retried_as_a_card_payment(
    app: FastAPI, http: httpx.AsyncClient, sessions: Sessions
) -> None:
    """A card payment's retry form offers no MobilePay choices (no number, no push or QR):
    Retry makes a new card payment; a forged push/QR choice is refused and changes nothing."""
    customer_id, invoice_id = await _customer(sessions, phone="+4791234567")
    await _send_card(http, customer_id, invoice_id)
    (first,) = await _requests(sessions)
    async with sessions() as session, session.begin():
        await apply.apply_outcome(
            session, reference=first.reference, target=Status.failed, source="system"
        )
    card = await http.get(f"/customers/{customer_id}")
    form = card.text[card.text.index(f'action="/requests/{first.id}/retry"') :]
    form = form[: form.index("</form>")]
    assert 'name="flow"' not in form and 'name="phone"' not in form
    forged = await http.post(
        f"/requests/{first.id}/retry",
        data={"csrf": csrf_of(card.text), "flow": "qr", "phone": "+4791234567"},
    )
    assert forged.status_code == 303
    shown = (await http.get(forged.headers["location"])).text
    assert "This payment cannot be sent that way: retry it as it was sent" in shown
    assert len(await _requests(sessions)) == 1
    retried = await http.post(f"/requests/{first.id}/retry", data={"csrf": csrf_of(card.text)})
    assert retried.status_code == 303, retried.text
    _first, again = await _requests(sessions)
    assert (again.provider, again.user_flow) == ("stripe", "redirect")
    assert again.retry_of_id == first.id
