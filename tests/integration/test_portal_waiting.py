"""An invoice a request is already waiting on: the portal shows that request (status,
countdown, Follow) instead of offering to pay it again, and a request that gets there first
while the customer fills in the pay form is named, with a link, in their language."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from payrequest.payment_requests.models import PaymentRequest
from tests.integration import portal_helpers as h
from tests.integration.portal_helpers import Sessions


@pytest.fixture
async def http(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    async with h.portal_app(database_url, tmp_path) as (_app, client):
        yield client


def _card(html: str, invoice_id: int) -> str:
    """The invoice card of one invoice on the portal's front page."""
    match = re.search(
        rf'<li class="invoice-card[^"]*" data-invoice="{invoice_id}">(.*?)</li>', html, re.S
    )
    assert match, f"no card for invoice {invoice_id}"
    return match.group(1)


async def test_an_invoice_with_a_waiting_request_shows_it_instead_of_pay(
    http: httpx.AsyncClient, sessions: Sessions
) -> None:
    kari = await h.customer(sessions, locale="en")
    busy = await h.invoice_with_vat(sessions, kari, number="W-1")
    free = await h.invoice_with_vat(sessions, kari, number="W-2")
    await h.waiting_request(sessions, kari, [busy], reference="pr-waiting-0001")
    await h.sign_in(http, sessions, kari.id)

    home = (await http.get("/portal")).text

    card = _card(home, busy.id)
    assert 'type="checkbox"' not in card and "/portal/pay?" not in card
    assert 'href="/portal/payments/pr-waiting-0001"' in card and ">Follow<" in card
    assert re.search(r'data-countdown-ms="\d+"', card)
    assert "Waiting" in card
    other = _card(home, free.id)
    assert f'value="{free.id}"' in other and f"/portal/pay?invoice_ids={free.id}" in other


async def test_the_pay_page_of_a_busy_invoice_offers_to_follow_it_not_to_pay(
    http: httpx.AsyncClient, sessions: Sessions
) -> None:
    kari = await h.customer(sessions, locale="en")
    busy = await h.invoice_with_vat(sessions, kari, number="W-3")
    await h.waiting_request(sessions, kari, [busy], reference="pr-waiting-0003")
    await h.sign_in(http, sessions, kari.id)

    page = await http.get(f"/portal/pay?invoice_ids={busy.id}")

    assert page.status_code == 200
    assert 'action="/portal/pay"' not in page.text
    assert 'href="/portal/payments/pr-waiting-0003"' in page.text


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("nb", "Det venter allerede en betaling for denne fakturaen"),
        ("da", "Der venter allerede en betaling for denne faktura"),
        ("en", "A payment for this invoice is already waiting for your approval."),
    ],
)
async def test_a_request_that_got_there_first_is_named_with_a_link_in_the_customers_language(
    http: httpx.AsyncClient, sessions: Sessions, locale: str, expected: str
) -> None:
    kari = await h.customer(sessions, locale=locale)
    invoice = await h.invoice_with_vat(sessions, kari, number=f"W-race-{locale}")
    await h.sign_in(http, sessions, kari.id)
    form = await http.get(f"/portal/pay?invoice_ids={invoice.id}")
    assert 'action="/portal/pay"' in form.text  # free when the customer opened the form
    # ... and staff (or another tab) sent a request for it before they pressed the button
    await h.waiting_request(sessions, kari, [invoice], reference=f"pr-race-{locale}-01")

    refused = await h.submit_pay(http, form.text, [invoice.id], phone="+4791234567", method="push")

    assert refused.status_code == 409
    assert "text/html" in refused.headers["content-type"]
    alert = h.alert(refused.text)
    assert expected in alert
    assert f'href="/portal/payments/pr-race-{locale}-01"' in alert
    assert "for the customer" not in refused.text  # the staff wording never reaches customers
    async with sessions() as session:
        count = (await session.execute(select(func.count(PaymentRequest.id)))).scalar_one()
    assert count == 1  # only the one that got there first
