"""Paying by card from the portal in a real browser, through the demo's Stripe emulator: the
3-D Secure card paid (and staff see it live on the customer card), and a declined card whose
reason the portal shows after the customer comes back, where Try again starts a new one; staff
refund part of a card payment and its invoice opens again."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from tests.e2e.demo import Demo, open_card, sign_in
from tests.e2e.test_portal_browser import _portal_page

CHECKOUT = re.compile(r"/sandbox/stripe/pay/cs_[^/]+$")


async def _choose_two_and_pay_by_card(page: Page) -> None:
    cards = page.locator(".invoice-card")
    await expect(cards.first).to_be_visible()
    await cards.nth(0).get_by_role("checkbox").check()
    await cards.nth(1).get_by_role("checkbox").check()
    await page.get_by_role("button", name="Pay selected").click()
    await page.get_by_role("button", name="Pay by card").click()
    await expect(page).to_have_url(CHECKOUT)  # straight on to the card payment page


async def _enter_card(page: Page, number: str) -> None:
    await page.locator("input[name=email]").fill("payer@example.no")
    await page.locator("input[name=cardNumber]").fill(number)
    await page.locator("input[name=cardExpiry]").fill("12 / 34")
    await page.locator("input[name=cardCvc]").fill("123")
    await page.locator("form button[type=submit]").click()


async def test_two_invoices_paid_by_card_with_3d_secure_seen_live_by_staff(
    browser: Browser, demo: Demo
) -> None:
    name = "Ingrid Solberg"
    staff = await (await browser.new_context(locale="en-GB")).new_page()
    await sign_in(staff, demo)
    await open_card(staff, demo, name)
    paid = staff.locator("[data-invoice-status=paid]")
    paid_before = await paid.count()
    await staff.evaluate("window.__notReloaded = true")

    page = await _portal_page(browser, demo, name)
    open_before = await page.locator(".invoice-card").count()
    assert open_before >= 2
    await _choose_two_and_pay_by_card(page)
    await _enter_card(page, "4000 0027 6000 3184")
    await expect(page).to_have_url(re.compile(r"/authenticate$"))
    await page.locator("button[name=action][value=complete]").click()

    await expect(page).to_have_url(re.compile(r"/portal/payments/[^/?]+$"))
    await expect(page.get_by_text("Paid. Thank you!")).to_be_visible(timeout=10_000)
    await expect(page.get_by_text(re.compile(r"Invoice .+ is paid"))).to_have_count(2)
    await page.screenshot(path="test-results/portal-card-paid.png", full_page=True)

    await expect(paid).to_have_count(paid_before + 2, timeout=10_000)  # live, no reload
    assert await staff.evaluate("window.__notReloaded === true")
    reference = page.url.rsplit("/", 1)[-1]
    await page.goto(f"{demo.url}/portal")
    await expect(page.locator(".invoice-card")).to_have_count(open_before - 2)

    # Staff refund part of the card payment: Stripe refunds it, and one invoice opens again.
    await staff.get_by_role("link", name=reference).click()
    await staff.locator("#refund-amount").fill("100")
    await staff.locator("#refund-reason").fill("Goodwill")
    await staff.get_by_role("button", name="Refund").click()
    await expect(staff.locator("[data-refund-status=succeeded]")).to_have_count(1, timeout=15_000)
    await open_card(staff, demo, name)
    await expect(paid).to_have_count(paid_before + 1)
    await page.goto(f"{demo.url}/portal")
    await expect(page.locator(".invoice-card")).to_have_count(open_before - 1)
    await page.context.close()
    await staff.context.close()


async def test_a_declined_card_is_explained_in_the_portal_and_try_again_starts_anew(
    browser: Browser, demo: Demo
) -> None:
    page = await _portal_page(browser, demo, "Nordlys Frisør")
    await _choose_two_and_pay_by_card(page)
    first_checkout = page.url
    await _enter_card(page, "4000 0000 0000 0002")
    # Stripe's page speaks the customer's language (Norwegian), whatever the portal shows.
    await expect(page.get_by_role("alert")).to_have_text("Kortet ble avvist.")
    await expect(page).to_have_url(first_checkout)  # the payer stays on the page

    await page.locator("a.back").click()  # the page's way back: the cancel URL
    await expect(page).to_have_url(re.compile(r"/portal/payments/[^/?]+$"))
    reference = page.url.rsplit("/", 1)[1]
    await expect(page.get_by_text("Waiting for your card payment")).to_be_visible()
    await expect(page.get_by_role("alert")).to_contain_text("The card was declined.")
    await page.screenshot(path="test-results/portal-card-declined.png", full_page=True)

    await page.get_by_role("button", name="Try again").click()
    await expect(page).to_have_url(CHECKOUT)
    assert page.url != first_checkout  # a new payment page for a new attempt
    await _enter_card(page, "4242 4242 4242 4242")
    await expect(page).to_have_url(re.compile(rf"/portal/payments/{reference}-\d+$"))
    await expect(page.get_by_text("Paid. Thank you!")).to_be_visible(timeout=10_000)
    await page.context.close()
