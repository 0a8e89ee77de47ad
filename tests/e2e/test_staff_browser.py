"""A staff member signs in to the demo in a real browser and finds a customer's invoices."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.e2e.demo import OWNER, Demo, choose_language

EMAIL, PASSWORD = OWNER


async def _sign_in(page: Page, demo: Demo, password: str = PASSWORD) -> None:
    await page.goto(f"{demo.url}/customers")
    await expect(page).to_have_url(re.compile(rf"{demo.url}/login"))
    await page.get_by_label("Email").fill(EMAIL)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def test_sign_in_and_open_a_customer_card(page: Page, demo: Demo) -> None:
    await _sign_in(page, demo)
    await choose_language(page, "en")  # English pages for stable selectors
    await expect(page.get_by_role("heading", name="Customers")).to_be_visible()
    await expect(page.get_by_role("link", name="Café Havnen ApS")).to_be_visible()
    await page.get_by_label("Search customers").fill("fjord")
    await page.get_by_label("Search customers").press("Enter")
    await expect(page.get_by_role("link", name="Café Havnen ApS")).to_have_count(0)
    await page.get_by_role("link", name="Fjordbakeriet AS").click()
    await expect(page.get_by_role("heading", name="Fjordbakeriet AS")).to_be_visible()
    rows = page.locator("table.invoices tbody tr")
    await expect(rows).to_have_count(3)
    await expect(page.locator("[data-invoice-status=paid]")).to_have_count(1)
    await choose_language(page, "nb")  # amounts as a Norwegian reads them
    await expect(page.locator(".balance strong")).to_contain_text("kr")


async def test_wrong_password_keeps_the_visitor_out(page: Page, demo: Demo) -> None:
    await _sign_in(page, demo, password="not the password")
    await expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    await page.goto(f"{demo.url}/customers")
    await expect(page).to_have_url(re.compile(rf"{demo.url}/login"))
