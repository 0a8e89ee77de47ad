"""Two businesses in two markets on one installation, in a real browser against the demo: the
owner of both pays a Norwegian customer's invoice through the Norwegian business's sales unit
(NOK), switches to the Danish business in the header, and pays a Danish customer's invoice
through its own Danish sales unit (DKK); each card turns paid live, and each business sees
only its own customers."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from tests.e2e.demo import Demo, open_card, sign_in
from tests.e2e.test_staff_flow_browser import phone_page

NORWEGIAN = "Payrequest Demo AS"
DANISH = "Payrequest Demo ApS"


async def _pay(page: Page, browser: Browser, demo: Demo, msisdn: str, currency: str) -> None:
    await page.locator("input[name=invoice_ids]").first.check()
    await expect(page.locator("[data-request-total]")).to_have_text(
        re.compile(rf"{currency}\s?[\d,]+\.\d\d")
    )
    await page.get_by_role("button", name="Send MobilePay request").click()
    await expect(page.get_by_role("status")).to_have_text("Payment request sent.")
    row = page.locator("[data-request]").first
    await expect(row.locator("[data-status]")).to_have_text("Waiting for customer")
    await expect(row.locator("td.num")).to_contain_text(currency)
    phone = await phone_page(browser, demo, msisdn)
    await phone.locator(".card.request .approve").first.click()
    await expect(phone.locator(".card.request")).to_have_count(0)
    await phone.context.close()
    await expect(page.locator("[data-request]").first.locator("[data-status]")).to_have_text("Paid")


async def test_two_businesses_in_two_markets_are_paid_end_to_end(
    page: Page, browser: Browser, demo: Demo
) -> None:
    await sign_in(page, demo)
    switch = page.locator("#organisation-choice")
    await expect(switch.locator("option:checked")).to_have_text(NORWEGIAN)

    await open_card(page, demo, "Nordlys Frisør")
    await _pay(page, browser, demo, "4797540218", "NOK")

    await switch.select_option(label=DANISH)
    await expect(page.get_by_role("heading", name=re.compile("Customers"))).to_be_visible()
    await expect(page.locator("#organisation-choice option:checked")).to_have_text(DANISH)
    # The Danish business's customers only: none of the Norwegian one's.
    await expect(page.get_by_role("link", name="Sofie Andersen")).to_be_visible()
    await expect(page.get_by_role("link", name="Nordlys Frisør")).to_have_count(0)

    await open_card(page, demo, "Sofie Andersen")
    await _pay(page, browser, demo, "4526841903", "DKK")

    # Its sales unit is its own, connected in Settings.
    await page.goto(f"{demo.url}/settings")
    await expect(page.locator("#connection")).to_have_attribute(
        "data-connection-status", "connected"
    )
    await expect(page.locator("[data-connection-msn]")).to_have_text("654321")
    # So is its Stripe account (an emulator account of its own): checked, with its own
    # webhook address, and its customers may pay by card.
    await expect(page.locator("#card-connection")).to_have_attribute(
        "data-card-connection-status", "connected"
    )
    await expect(page.locator("[data-card-connection-webhook]")).to_contain_text(
        "/webhooks/stripe/"
    )
    await open_card(page, demo, "Sofie Andersen")
    await expect(page.get_by_label("Card payment link")).to_have_count(1)
