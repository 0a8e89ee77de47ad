"""Paying from the portal, over real HTTP against the live server and its emulator."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.payment_requests.models import PaymentRequest
from tests.factories import make_customer, make_invoice
from tests.integration.portal_helpers import sign_in, submit_pay
from tests.lifecycle.conftest import Emulator, LiveServer, wait_for_status
from tests.staff import csrf_of

pytestmark = pytest.mark.usefixtures("webhook_ready")
Sessions = async_sessionmaker[AsyncSession]


async def _portal_client(
    live: LiveServer, sessions: Sessions, invoices: int
) -> tuple[httpx.AsyncClient, list[int]]:
    async with sessions() as session, session.begin():
        customer = await make_customer(session, name="Kari Nordmann", phone="+4791234567")
        customer.portal_access = True
        ids = [
            (await make_invoice(session, customer, amount=10_000 + n)).id for n in range(invoices)
        ]
    http = httpx.AsyncClient(base_url=live.url, timeout=15)
    await sign_in(http, sessions, customer.id)
    return http, ids


async def _pay(
    http: httpx.AsyncClient, invoice_ids: list[int], method: str = "push"
) -> httpx.Response:
    form = await http.get("/portal/pay", params=[("invoice_ids", i) for i in invoice_ids])
    return await submit_pay(http, form.text, invoice_ids, phone="912 34 567", method=method)


async def test_pay_two_invoices_from_the_portal(
    live: LiveServer, sessions: Sessions, emulator: Emulator
) -> None:
    http, ids = await _portal_client(live, sessions, 2)
    response = await _pay(http, ids)
    assert response.status_code == 303
    reference = response.headers["location"].rsplit("/", 1)[1]
    page = await http.get(f"/portal/payments/{reference}")
    assert "Waiting for you to approve" in page.text or "Venter" in page.text
    await emulator.approve(reference)
    await wait_for_status(sessions, reference, "paid")
    done = await http.get(f"/portal/payments/{reference}/live")
    assert 'data-status="paid"' in done.text
    receipt = await http.get(f"/portal/receipts/{reference}")
    assert receipt.status_code == 200
    async with sessions() as session:
        origin = (
            await session.execute(
                select(PaymentRequest.origin).where(PaymentRequest.reference == reference)
            )
        ).scalar_one()
    assert origin == "portal"  # the same object staff see on the customer card
    await http.aclose()


async def test_the_fourth_push_to_one_phone_within_ten_minutes_is_refused(
    live: LiveServer, sessions: Sessions, emulator: Emulator
) -> None:
    http, ids = await _portal_client(live, sessions, 4)
    references = []
    for invoice_id in ids[:3]:
        response = await _pay(http, [invoice_id])
        assert response.status_code == 303
        references.append(response.headers["location"].rsplit("/", 1)[1])
    refused = await _pay(http, [ids[3]])
    assert refused.status_code == 422
    assert re.search(r"wait \d+ minutes", refused.text) or "minutt" in refused.text
    async with sessions() as session:
        count = (await session.execute(select(func.count(PaymentRequest.id)))).scalar_one()
    assert count == 3  # the fourth was never created, so no push was sent
    for reference in references:
        assert await emulator.events(reference) == ["CREATED"]
    await http.aclose()


async def test_qr_payment_for_a_desktop_without_a_phone_number(
    live: LiveServer, sessions: Sessions
) -> None:
    http, ids = await _portal_client(live, sessions, 1)
    response = await _pay(http, ids, method="qr")
    assert response.status_code == 303
    reference = response.headers["location"].rsplit("/", 1)[1]
    page = await http.get(f"/portal/payments/{reference}")
    # The code is drawn into the page from the link it stands for; phones get the link itself.
    assert re.search(r'<figure class="qr-code"><svg [^>]*class="qr"', page.text), "no QR code"
    link = re.search(r'<a class="[^"]*open-app" href="([^"]+)"', page.text)
    assert link, "no link to open the app"
    target = link.group(1).replace("&amp;", "&")
    assert target.startswith(f"{live.url}/sandbox/vipps/landing?")
    landing = await http.get(target)
    assert landing.status_code == 200 and "text/html" in landing.headers["content-type"]
    await http.aclose()


async def test_a_requested_link_arrives_by_sms_on_the_phone_and_opens_the_portal(
    live: LiveServer, sessions: Sessions
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session, name="Ola Nordmann", phone="+4791234567")
        customer.portal_access = True
        customer.locale = "en"
    async with httpx.AsyncClient(base_url=live.url, timeout=15) as http:
        start = await http.get("/portal/start")
        sent = await http.post(
            "/portal/start", data={"contact": "912 34 567", "csrf": csrf_of(start.text)}
        )
        assert sent.status_code == 200
        http.cookies.update(live.emulator_cookies)  # the emulator key, as in a demo's phone
        link = None
        for _ in range(50):  # the link is sent after the answer (a background task)
            inbox = await http.get("/sandbox/vipps/phone/4791234567/sms")
            messages = inbox.json()
            texts = [
                m["text"]
                for m in (messages["messages"] if isinstance(messages, dict) else messages)
            ]
            link = re.search(r"(http://\S+/portal/link/\S+)", " ".join(texts))
            if link:
                break
            await asyncio.sleep(0.1)
        assert link, texts
        shown = await http.get(link.group(1))  # a page with a button: opening uses nothing
        assert shown.status_code == 200
        opened = await http.post(link.group(1), data={"csrf": csrf_of(shown.text)})
        assert opened.status_code == 303
        home = await http.get("/portal")
        assert home.status_code == 200 and "Ola Nordmann" in home.text
