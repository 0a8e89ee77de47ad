"""Issue 7 in a real browser: staff build a flow in the admin, switch it on, a payment is
approved on the emulator's phone page, and the flow's run log shows the SMS receipt sent."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from tests.e2e.demo import Demo, open_card, sign_in
from tests.e2e.test_staff_flow_browser import (  # noqa: F401 - `demo` is a fixture
    demo,
    phone_page,
    send_for,
)

SHOTS = Path("test-results")


async def test_build_a_flow_then_a_payment_shows_in_its_run_log(
    page: Page,
    browser: Browser,
    demo: Demo,  # noqa: F811 - the imported fixture
) -> None:
    await sign_in(page, demo)
    await page.get_by_role("link", name="Automations").click()
    await expect(page.get_by_role("heading", name="Automations")).to_be_visible()
    # The ready-made flows are there, switched off.
    await expect(
        page.get_by_role("link", name="SMS receipt when a payment completes")
    ).to_be_visible()

    await page.get_by_role("link", name="New flow").click()
    await page.get_by_label("Name").fill("Thank-you SMS")
    # The calendar's fields are there only for a flow a day starts.
    await page.get_by_label("Event").select_option("schedule.invoice_overdue")
    await expect(page.get_by_label("Days", exact=True)).to_be_visible()
    await page.get_by_label("Event").select_option("payment_request.paid")
    await expect(page.get_by_label("Days", exact=True)).to_be_hidden()
    await expect(page.get_by_label("Reminders before, at most")).to_be_hidden()
    text = page.locator("#a0_text")
    await text.fill("Thanks {{ customer_name }}, {{ amount }} received.")
    # A typo is refused at save time, next to the field.
    await text.fill("Thanks {{ customer_nmae }}")
    await page.get_by_role("button", name="Save flow").click()
    await expect(page.locator('[data-error="a0_text"]')).to_contain_text("customer_nmae")
    await page.locator("#a0_text").fill("Thanks {{ customer_name }}, {{ amount }} received.")
    # Add a webhook action and remove it again (plain form posts, no script needed).
    await page.get_by_label("Add an action").select_option("webhook")
    await page.get_by_role("button", name="Add", exact=True).click()
    await expect(page.locator('[data-action="1"]')).to_be_visible()
    await page.locator('[data-action="1"]').get_by_role("button", name="Remove").click()
    await expect(page.locator('[data-action="1"]')).to_have_count(0)
    await page.get_by_role("button", name="Save flow").click()
    await expect(page.get_by_role("status")).to_have_text("The flow is saved.")
    await page.get_by_role("button", name="Switch on").click()
    await expect(page.get_by_role("status")).to_have_text("The flow is on.")
    await page.screenshot(path=str(SHOTS / "flow-builder.png"), full_page=True)
    flow_url = page.url

    await open_card(page, demo, "Fjordbakeriet AS")
    await send_for(page, 1)
    phone = await phone_page(browser, demo, "4791834562")
    await phone.locator(".card.request .approve").first.click()
    await expect(phone.locator(".card.request")).to_have_count(0)
    await expect(page.locator("[data-request] [data-status]").first).to_have_text("Paid")

    await page.goto(flow_url)
    run_link = page.locator("tr[data-run] a").first
    for _ in range(40):
        if await page.locator('tr[data-run] [data-run-status="done"]').count():
            break
        await page.wait_for_timeout(250)
        await page.reload()
    await expect(page.locator('tr[data-run] [data-run-status="done"]')).to_have_count(1)
    await run_link.click()
    await expect(page.get_by_role("heading", name=re.compile("Run log"))).to_be_visible()
    await expect(page.locator('[data-action-run="0"] [data-run-status="done"]')).to_be_visible()
    await expect(page.locator('[data-action-run="0"]')).to_contain_text("Thanks Fjordbakeriet AS")
    await expect(page.locator('[data-action-run="0"]')).to_contain_text("flowrun-")
    await page.screenshot(path=str(SHOTS / "flow-run-log.png"), full_page=True)

    await phone.reload()
    await expect(phone.get_by_text("Thanks Fjordbakeriet AS")).to_be_visible()
    await phone.screenshot(path=str(SHOTS / "flow-sms-on-phone.png"), full_page=True)
    await phone.context.close()
