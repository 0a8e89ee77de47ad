"""Sending from the customer card over real HTTP against the live server and its emulator
(Norwegian sales unit, approved for long-living requests): QR requests with their code, link
and SMS/email sharing; part payments; the expiry presets; Retry only on the newest attempt
with another number or flow; invoices in a currency the sales unit does not take."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.customers.models import Customer
from payrequest.payment_requests.models import PaymentRequest
from tests.factories import make_customer, make_invoice
from tests.lifecycle.conftest import SANDBOX, Emulator, LiveServer, wait_for_status
from tests.staff import create_staff, csrf_of, sign_in

pytestmark = pytest.mark.usefixtures("webhook_ready")
Sessions = async_sessionmaker[AsyncSession]
QR_CODE = re.compile(r'<svg [^>]*class="qr"')


@pytest.fixture
async def http(live: LiveServer, sessions: Sessions) -> AsyncIterator[httpx.AsyncClient]:
    await create_staff(sessions, roles=("staff",), locale="en")
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        await sign_in(client)
        yield client


async def _customer(
    sessions: Sessions,
    *,
    phone: str | None = "+4791234567",
    locale: str = "nb",
    email: str | None = None,
    invoices: tuple[int, ...] = (40_000,),
    currency: str = "NOK",
) -> tuple[int, list[int]]:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        customer.phone, customer.locale, customer.email = phone, locale, email
        ids = [
            (await make_invoice(session, customer, amount=a, due_in_days=n, currency=currency)).id
            for n, a in enumerate(invoices)
        ]
        return customer.id, ids


async def _send(
    http: httpx.AsyncClient, customer_id: int, invoice_ids: list[int], **fields: str
) -> httpx.Response:
    card = await http.get(f"/customers/{customer_id}")
    data = {"csrf": csrf_of(card.text), "invoice_ids": [str(i) for i in invoice_ids], **fields}
    response = await http.post(f"/customers/{customer_id}/requests", data=data)
    assert response.status_code == 303, response.text
    return response


async def _requests(sessions: Sessions, customer_id: int) -> list[PaymentRequest]:
    async with sessions() as session:
        stmt = (
            select(PaymentRequest)
            .where(PaymentRequest.customer_id == customer_id)
            .order_by(PaymentRequest.id)
        )
        return list((await session.execute(stmt)).scalars())


def _flashes(page: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r'<p class="flash[^"]*"[^>]*>([^<]*)</p>', page)]


async def test_a_request_without_a_number_is_a_qr_request_with_its_code_and_link(
    http: httpx.AsyncClient, sessions: Sessions, emulator: Emulator, live: LiveServer
) -> None:
    customer_id, ids = await _customer(sessions, locale="da")
    await _send(http, customer_id, ids, phone="")
    [request] = await _requests(sessions, customer_id)
    assert request.user_flow == "qr" and request.phone is None
    assert request.status == "pending"
    link = request.redirect_url or ""
    assert link.startswith(f"{live.url}{SANDBOX}/landing?token=")  # the link, not an image
    assert request.description.startswith("Faktura ")  # in the customer's language

    card = (await http.get(f"/customers/{customer_id}")).text
    row = card.split(f'data-request="{request.reference}"', 1)[1].split("</tr>", 1)[0]
    assert QR_CODE.search(row) and html.escape(link) in row
    assert "The customer has to scan this QR code or open the link to pay." in row
    assert "Send the payment link by SMS" in row and "Send the payment link by email" in row
    assert "data-countdown-ms=" in row
    detail = (await http.get(f"/requests/{request.id}")).text
    assert QR_CODE.search(detail) and html.escape(link) in detail and "data-print" in detail

    token = csrf_of(card)
    sent = await http.post(f"/requests/{request.id}/link", data={"csrf": token, "channel": "sms"})
    assert sent.status_code == 303
    assert _flashes((await http.get(sent.headers["location"])).text) == [
        "Payment link sent by SMS."
    ]
    inbox = (
        await http.get(f"{SANDBOX}/phone/4791234567/sms", cookies=live.emulator_cookies)
    ).json()
    assert len(inbox) == 1
    assert link in inbox[0]["text"] and "Betal med Vipps MobilePay" in inbox[0]["text"]
    again = await http.post(f"/requests/{request.id}/link", data={"csrf": token, "channel": "sms"})
    assert _flashes((await http.get(again.headers["location"])).text) == [
        "Payment link sent by SMS."
    ]
    assert (
        len(
            (
                await http.get(f"{SANDBOX}/phone/4791234567/sms", cookies=live.emulator_cookies)
            ).json()
        )
        == 1
    )  # same key

    mail = await http.post(f"/requests/{request.id}/link", data={"csrf": token, "channel": "email"})
    messages = _flashes((await http.get(mail.headers["location"])).text)
    assert messages == [
        "The customer has no email address on file: add one on the customer, or send the "
        "link by SMS"
    ]

    await emulator.approve(request.reference, phone="4791234567")
    await wait_for_status(sessions, request.reference, "paid")
    card = (await http.get(f"/customers/{customer_id}")).text
    assert not QR_CODE.search(card)  # paid: nothing left to scan


async def test_sharing_the_link_says_why_when_there_is_nowhere_to_send_it(
    http: httpx.AsyncClient, sessions: Sessions
) -> None:
    customer_id, ids = await _customer(sessions, phone=None, email="kari@example.no")
    await _send(http, customer_id, ids, flow="qr")
    [request] = await _requests(sessions, customer_id)
    assert request.share_phone  # no number on file: the payer is asked to share theirs
    token = csrf_of((await http.get(f"/customers/{customer_id}")).text)
    for channel, expected in (
        ("sms", "The customer has no mobile number on file"),
        ("email", "Email is off: no SMTP server is configured (see Settings)"),
    ):
        response = await http.post(
            f"/requests/{request.id}/link", data={"csrf": token, "channel": channel}
        )
        [message] = _flashes((await http.get(response.headers["location"])).text)
        assert message.startswith(expected)


async def test_a_part_payment_is_planned_oldest_first_and_leaves_the_rest_open(
    http: httpx.AsyncClient, sessions: Sessions, emulator: Emulator
) -> None:
    customer_id, ids = await _customer(sessions, invoices=(20_000, 30_000))
    await _send(http, customer_id, ids, phone="912 34 567", amount="350,00", currency="NOK")
    [request] = await _requests(sessions, customer_id)
    assert request.amount == 35_000
    assert request.description.startswith("Delbetaling av fakturaer")
    await emulator.approve(request.reference)
    await wait_for_status(sessions, request.reference, "paid")
    card = (await http.get(f"/customers/{customer_id}")).text
    older, newer = (card.split(f'data-invoice="{i}"', 1)[1].split("</tr>", 1)[0] for i in ids)
    assert 'data-invoice-status="paid"' in older
    assert 'data-invoice-status="partially_paid"' in newer and "150.00" in newer
    invoice_page = (await http.get(f"/invoices/{ids[1]}")).text
    assert 'data-invoice-status="partially_paid"' in invoice_page
    assert re.search(r'data-total="open"><strong>NOK\s150\.00<', invoice_page)


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("600", "You can ask for at most NOK\u00a0500.00, what is open on these invoices"),
        ("0", "Amount to request must be more than 0"),
        ("abc", "“abc” is not an amount (example: 1 234,50)"),
    ],
)
async def test_a_wrong_amount_is_refused_clearly_and_sends_nothing(
    http: httpx.AsyncClient, sessions: Sessions, amount: str, message: str
) -> None:
    customer_id, ids = await _customer(sessions, invoices=(20_000, 30_000))
    response = await _send(http, customer_id, ids, phone="912 34 567", amount=amount)
    assert _flashes((await http.get(response.headers["location"])).text) == [message]
    assert await _requests(sessions, customer_id) == []


async def test_expiry_presets_stay_within_norways_day_with_a_margin(
    http: httpx.AsyncClient, sessions: Sessions
) -> None:
    customer_id, ids = await _customer(sessions, invoices=(10_000, 20_000, 30_000))
    card = (await http.get(f"/customers/{customer_id}")).text
    options = re.findall(
        r'<option value="(\d*)">([^<]*)</option>', card.split('id="send-expiry"')[1]
    )
    assert options == [("", "Standard: 23 hours 55 minutes"), ("60", "1 hour")]
    await _send(http, customer_id, ids[:1], phone="912 34 567")
    await _send(http, customer_id, ids[1:2], phone="912 34 567", expiry="60")
    refused = await _send(http, customer_id, ids[2:], phone="912 34 567", expiry="1440")
    [message] = _flashes((await http.get(refused.headers["location"])).text)
    assert message.startswith("Choose an expiry between ")
    default, hour = await _requests(sessions, customer_id)
    assert default.expires_at - default.created_at == pytest.approx(
        timedelta(hours=23, minutes=55), abs=timedelta(seconds=5)
    )
    assert hour.expires_at - hour.created_at == pytest.approx(
        timedelta(hours=1), abs=timedelta(seconds=5)
    )


async def test_retry_only_on_the_newest_attempt_and_with_another_number_or_flow(
    http: httpx.AsyncClient, sessions: Sessions
) -> None:
    customer_id, ids = await _customer(sessions)
    await _send(http, customer_id, ids, phone="+47 999 99 999")  # no MobilePay user
    [first] = await _requests(sessions, customer_id)
    assert first.status == "failed"
    card = (await http.get(f"/customers/{customer_id}")).text
    token = csrf_of(card)
    retried = await http.post(
        f"/requests/{first.id}/retry", data={"csrf": token, "flow": "push", "phone": "91234567"}
    )
    assert retried.status_code == 303
    first, second = await _requests(sessions, customer_id)
    assert second.phone == "+4791234567" and second.retry_of_id == first.id
    cancel = await http.post(f"/requests/{second.id}/cancel", data={"csrf": token})
    assert cancel.status_code == 303
    card = (await http.get(f"/customers/{customer_id}")).text
    assert f'action="/requests/{second.id}/retry"' in card
    assert f'action="/requests/{first.id}/retry"' not in card  # an older attempt: never

    stale = await http.post(f"/requests/{first.id}/retry", data={"csrf": token})
    [message] = _flashes((await http.get(stale.headers["location"])).text)
    assert message == f"Only the newest attempt can be retried; {second.reference} is newer"
    assert len(await _requests(sessions, customer_id)) == 2

    await http.post(f"/requests/{second.id}/retry", data={"csrf": token, "flow": "qr"})
    third = (await _requests(sessions, customer_id))[-1]
    assert third.user_flow == "qr" and third.phone is None and third.attempt == 2


async def test_an_invoice_in_a_currency_the_sales_unit_does_not_take(
    http: httpx.AsyncClient, sessions: Sessions
) -> None:
    customer_id, _ids = await _customer(sessions, currency="DKK")
    card = (await http.get(f"/customers/{customer_id}")).text
    send_form = card.split("data-send-form", 1)[1].split("</form>", 1)[0]
    assert "data-unpayable" in send_form and 'name="invoice_ids"' not in send_form
    assert "Invoices in DKK cannot be paid with MobilePay here" in card
    assert "data-send-button" not in card  # no Send button that would fail
    async with sessions() as session, session.begin():
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        customer.country = "DK"
    form = (await http.get(f"/invoices/new?customer_id={customer_id}")).text
    warning = re.search(r"<p class=\"hint\" id=\"currency-warning\"[^>]*>", form)
    assert warning and "hidden" not in warning.group(0)
    assert "This installation takes payments in NOK only" in form
    norwegian = await _customer(sessions)
    form = (await http.get(f"/invoices/new?customer_id={norwegian[0]}")).text
    warning = re.search(r"<p class=\"hint\" id=\"currency-warning\"[^>]*>", form)
    assert warning and "hidden" in warning.group(0)
