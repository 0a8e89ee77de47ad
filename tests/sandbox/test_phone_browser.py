"""The phone simulator in a real browser (Debian's Chromium via Playwright): a request appears
live, and Approve / Reject change the payment. The emulator runs under uvicorn, mounted under
`/sandbox/vipps` exactly like the demo mounts it, so every URL the page and its JS build is
checked for the prefix too."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.sandbox.helpers import RECEIPT, Api, LiveServer, fetch_token, new_reference

PHONE = "4791234567"


async def _api(live: LiveServer, http: httpx.AsyncClient) -> Api:
    return Api(http, await fetch_token(http))


async def test_request_appears_live_and_approve(page: Any, live_server: LiveServer) -> None:
    from playwright.async_api import expect

    await page.goto(f"{live_server.base}/phone/{PHONE}")
    await expect(page.get_by_text("No payment requests waiting.")).to_be_visible()
    async with httpx.AsyncClient(base_url=live_server.base) as http:
        api = await _api(live_server, http)
        reference = new_reference()
        created = await api.create(reference, receipt=RECEIPT, paymentDescription="Invoice 10023")
        assert created.status_code == 201
        card = page.locator(f'.card.request[data-reference="{reference}"]')
        await expect(card).to_be_visible(timeout=5000)  # arrives by polling, no reload
        await expect(card).to_contain_text("Sandbox Merchant")
        await expect(card).to_contain_text("499,00")
        await expect(card).to_contain_text("1 × Invoice 10023")
        await expect(card.locator("[data-remaining-ms]")).to_have_text(re.compile(r"^\d+m \d\ds$"))
        await card.get_by_role("button", name="Approve").click()
        await expect(page.get_by_role("status")).to_have_text("Payment approved")
        done = page.locator(f'.card.done[data-reference="{reference}"]')
        await expect(done).to_contain_text("Authorized")
        assert (await api.get(reference)).json()["state"] == "AUTHORIZED"


async def test_reject_in_browser(page: Any, live_server: LiveServer) -> None:
    from playwright.async_api import expect

    async with httpx.AsyncClient(base_url=live_server.base) as http:
        api = await _api(live_server, http)
        reference = new_reference()
        await api.create(reference, paymentDescription="Invoice 10024")
        await page.goto(f"{live_server.base}/phone")
        await page.get_by_role("link", name=f"+{PHONE}").click()
        card = page.locator(f'.card.request[data-reference="{reference}"]')
        await expect(card).to_contain_text("Invoice 10024")
        await card.get_by_role("button", name="Reject").click()
        await expect(page.get_by_role("status")).to_have_text("Payment rejected")
        await expect(page.locator(f'.card.done[data-reference="{reference}"]')).to_contain_text(
            "Aborted"
        )
        assert (await api.get(reference)).json()["state"] == "ABORTED"
        events = [e["name"] for e in (await api.events(reference)).json()]
        assert events == ["CREATED", "ABORTED"]


async def test_sms_arrives_live(page: Any, live_server: LiveServer) -> None:
    from playwright.async_api import expect

    await page.goto(f"{live_server.base}/phone/{PHONE}")
    async with httpx.AsyncClient(base_url=live_server.base) as http:
        sms = {
            "sender": "payrequest",
            "text": "Your invoice: https://example.com/i/1",
            "idempotency_key": "b1",
        }
        assert (await http.post(f"/phone/{PHONE}/sms", json=sms)).status_code == 201
    message = page.locator(".sms", has_text="Your invoice")
    await expect(message).to_be_visible(timeout=5000)
    await expect(message.get_by_role("link")).to_have_attribute("href", "https://example.com/i/1")
