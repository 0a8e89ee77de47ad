"""A staff member writes an invoice by hand in a real browser, adding a line row with the
page's script, and finds it in the list."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Page, expect

from tests.e2e.demo import OWNER, Demo, choose_language

EMAIL, PASSWORD = OWNER
SHOTS = Path(__file__).resolve().parents[2] / "test-results"


async def test_create_an_invoice_by_hand(page: Page, demo: Demo) -> None:
    await page.goto(f"{demo.url}/invoices")
    await page.get_by_label("Email").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/invoices$"))
    await choose_language(page, "en")  # English pages for stable selectors
    await expect(page.get_by_role("heading", name="Invoices")).to_be_visible()

    await page.get_by_role("link", name="New invoice").click()
    bakery = page.locator("#customer_id option", has_text="Fjordbakeriet AS")
    await page.get_by_label("Customer").select_option(await bakery.get_attribute("value"))
    await page.get_by_label("Invoice number").fill("BROWSER-1")
    await page.get_by_label("Description, line 1").fill("Sourdough, 40 loaves")
    await page.get_by_label("Quantity, line 1").fill("40")
    await page.get_by_label("Unit price, line 1").fill("45,50")
    await page.get_by_label("VAT rate, line 1").select_option("15")
    # Five rows come with the page; the script adds a sixth.
    await page.get_by_role("button", name="Add a line").click()
    await page.get_by_label("Description, line 6").fill("Delivery")
    await page.get_by_label("Unit price, line 6").fill("150")
    SHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SHOTS / "invoice_form.png"), full_page=True)
    await page.get_by_role("button", name="Create invoice").click()

    # 40 x 45,50 = 1 820,00 + 15 % VAT 273,00; delivery 150,00 + 25 % 37,50: 2 280,50.
    await expect(page.get_by_role("heading", name=re.compile("Invoice BROWSER-1"))).to_be_visible()
    await expect(page.get_by_role("status")).to_have_text("Invoice BROWSER-1 created.")
    await choose_language(page, "nb")  # amounts as a Norwegian reads them
    await expect(page.locator('[data-total="total"]')).to_contain_text("2\u00a0280,50")
    await expect(page.locator("table.invoice-lines tbody tr")).to_have_count(2)
    await page.screenshot(path=str(SHOTS / "invoice_detail.png"), full_page=True)
    await choose_language(page, "en")

    await page.get_by_role("link", name="Invoices", exact=True).first.click()
    await page.get_by_label("Search invoices").fill("browser")
    await page.get_by_label("Search invoices").press("Enter")
    await expect(page.get_by_role("link", name="BROWSER-1")).to_be_visible()
