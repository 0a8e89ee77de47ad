"""Issue 5 in a real browser: a staff member sends a request, the customer approves on the
emulator's phone page, and the customer card turns paid with no reload."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests import servers

# test_money_browser still imports these two from here; their home is tests/e2e/demo.py.
from tests.e2e.demo import Demo, open_card, phone_context, sign_in, start_demo

READER = ("les@example.no", "only looking here")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo with a second, read-only account (READER) besides the owner."""
    with start_demo(tmp_path_factory.mktemp("flow")) as running:
        created = subprocess.run(
            [
                *servers.PAYREQUEST,
                "users",
                "create",
                "--email",
                READER[0],
                "--role",
                "readonly",
                "--password",
                READER[1],
                "--locale",
                "en",
                "--org",
                "main",  # the demo's Norwegian business (it has a Danish one too)
            ],
            env=servers.payrequest_env(running.tmp),
            cwd=running.tmp,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert created.returncode == 0, created.stderr
        yield running


async def send_for(page: Page, count: int) -> list[str]:
    boxes = page.locator("input[name=invoice_ids]")
    ticked = []
    for i in range(count):
        await boxes.nth(i).check()
        ticked.append(await boxes.nth(i).get_attribute("value") or "")
    await expect(page.locator("[data-request-total]")).to_have_text(
        re.compile(r"NOK\s?[\d,]+\.\d\d")
    )
    await page.get_by_role("button", name="Send MobilePay request").click()
    await expect(page.get_by_role("status")).to_have_text("Payment request sent.")
    return ticked


async def phone_page(browser: Browser, demo: Demo, msisdn: str) -> Page:
    context = await phone_context(browser, demo, viewport={"width": 420, "height": 900})
    phone = await context.new_page()
    await phone.goto(f"{demo.url}/sandbox/vipps/phone/{msisdn}")
    return phone


async def test_send_then_approve_turns_the_card_paid_without_reload(
    page: Page, browser: Browser, demo: Demo
) -> None:
    await sign_in(page, demo)
    await open_card(page, demo, "Fjordbakeriet AS")
    balance_before = await page.locator("[data-balance] strong").inner_text()
    ticked = await send_for(page, 2)
    await expect(page.locator("[data-request] [data-status]").first).to_have_text(
        "Waiting for customer"
    )
    await page.evaluate("window.__notReloaded = true")

    phone = await phone_page(browser, demo, "4791834562")
    await phone.locator(".card.request .approve").first.click()
    await expect(phone.locator(".card.request")).to_have_count(0)
    await phone.screenshot(path=str(Path("test-results") / "phone-approved.png"))
    await phone.context.close()

    await expect(page.locator("[data-request] [data-status]").first).to_have_text("Paid")
    for invoice_id in ticked:
        await expect(
            page.locator(f"tr[data-invoice='{invoice_id}'] [data-invoice-status]")
        ).to_have_text("Paid")
    await expect(page.locator("[data-balance] strong")).not_to_have_text(balance_before)
    assert await page.evaluate("window.__notReloaded === true")


async def test_cancel_a_pending_request(page: Page, demo: Demo) -> None:
    await sign_in(page, demo)
    await open_card(page, demo, "Ingrid Solberg")
    await send_for(page, 1)
    row = page.locator("[data-request]").first
    await expect(row.locator("[data-status]")).to_have_text("Waiting for customer")
    await row.get_by_role("button", name="Cancel").click()
    await expect(page.locator("[data-request]").first.locator("[data-status]")).to_have_text(
        "Cancelled"
    )
    await expect(
        page.locator("[data-request]").first.get_by_role("button", name="Retry")
    ).to_be_visible()


async def test_a_rejected_request_shows_why_and_can_be_retried(
    page: Page, browser: Browser, demo: Demo
) -> None:
    await sign_in(page, demo)
    await open_card(page, demo, "Nordlys Frisør")
    await send_for(page, 1)
    await page.evaluate("window.__notReloaded = true")
    phone = await phone_page(browser, demo, "4797540218")
    await phone.locator(".card.request .reject").first.click()
    await expect(phone.locator(".card.request")).to_have_count(0)
    await phone.context.close()
    row = page.locator("[data-request]").first
    await expect(row.locator("[data-status]")).to_have_text("Rejected")
    await expect(row).to_contain_text("The customer declined in the app.")
    assert await page.evaluate("window.__notReloaded === true")
    await row.get_by_role("button", name="Retry").click()
    await expect(page.get_by_role("status")).to_have_text("A new request was sent.")
    newest = page.locator("[data-request]").first
    await expect(newest.locator("[data-status]")).to_have_text("Waiting for customer")
    assert re.search(r"-1$", await newest.get_attribute("data-request") or "")


async def test_a_read_only_user_cannot_send(page: Page, demo: Demo) -> None:
    await sign_in(page, demo, READER)
    await open_card(page, demo, "Sander Bakke")
    await expect(page.locator("input[name=invoice_ids]")).to_have_count(0)
    await expect(page.get_by_role("button", name="Send MobilePay request")).to_have_count(0)
    # Even a hand-made POST with a valid session and token is refused.
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    token = await page.locator("meta[name=csrf-token]").get_attribute("content")
    customer_id = page.url.rstrip("/").rsplit("/", 1)[1]
    async with httpx.AsyncClient(base_url=demo.url, cookies=cookies) as http:
        refused = await http.post(
            f"/customers/{customer_id}/requests",
            data={"csrf": token or "", "invoice_ids": "1", "phone": "+4740566781"},
        )
    assert refused.status_code == 403
