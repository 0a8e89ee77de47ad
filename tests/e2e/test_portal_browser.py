"""Issue 6 in a real browser (a phone-sized window): open a magic link, pay two invoices,
approve on the emulator's phone page, and see the portal flip to paid with no reload."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from payrequest.customers.models import Customer
from payrequest.db.session import create_engine, session_factory
from payrequest.portal import service as portal
from tests.e2e.demo import Demo, phone_context


async def _phone_context(browser: Browser) -> BrowserContext:
    """A phone-sized window."""
    return await browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")


async def _link_for(demo: Demo, name: str, *, expired: bool = False) -> str:
    from datetime import timedelta

    engine = create_engine(demo.database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            customer = (
                await session.execute(select(Customer).where(Customer.name == name))
            ).scalar_one()
            issued = await portal.issue_link(
                session,
                customer_id=customer.id,
                channel="sms",
                lifetime=timedelta(seconds=-1) if expired else portal.LINK_LIFETIME,
            )
    finally:
        await engine.dispose()
    return f"{demo.url}/portal/link/{issued.token}"


async def _open_link(page: Page, link: str) -> None:
    """Open a magic link and press its button (opening alone signs nobody in)."""
    await page.goto(link)
    await page.locator('form[action^="/portal/link/"] button').click()


async def _portal_page(browser: Browser, demo: Demo, name: str) -> Page:
    context = await _phone_context(browser)
    page = await context.new_page()
    await _open_link(page, await _link_for(demo, name))
    # English pages for stable selectors; the menu's label is in the customer's language.
    await page.locator("#portal-language").select_option("en")
    await expect(page.get_by_role("heading", name=re.compile("Hello"))).to_be_visible()
    await expect(page.get_by_text("Open invoices")).to_be_visible()
    return page


async def _approve_or_reject(browser: Browser, demo: Demo, msisdn: str, action: str) -> None:
    context = await phone_context(browser, demo, viewport={"width": 420, "height": 900})
    phone = await context.new_page()
    await phone.goto(f"{demo.url}/sandbox/vipps/phone/{msisdn}")
    await phone.locator(f".card.request .{action}").first.click()
    await expect(phone.locator(".card.request")).to_have_count(0)
    await context.close()


async def test_pay_two_invoices_and_see_them_paid_without_reload(
    browser: Browser, demo: Demo
) -> None:
    page = await _portal_page(browser, demo, "Mette Kjær Hansen")
    cards = page.locator(".invoice-card")
    await expect(cards.first).to_be_visible()
    before = await cards.count()
    assert before >= 2
    await cards.nth(0).get_by_role("checkbox").check()
    await cards.nth(1).get_by_role("checkbox").check()
    await page.get_by_role("button", name="Pay selected").click()
    await expect(page.get_by_role("heading", name=re.compile("Pay"))).to_be_visible()
    await expect(page.get_by_label("Your MobilePay number")).to_have_value("+4520457136")
    await page.get_by_role("button", name="Send the request to my phone").click()
    await expect(page.get_by_text("Waiting for you to approve")).to_be_visible()
    await expect(page.locator("[data-countdown-ms]")).to_have_text(re.compile(r"\d"))
    await page.evaluate("window.__notReloaded = true")
    await page.screenshot(path="test-results/portal-waiting.png", full_page=True)

    await _approve_or_reject(browser, demo, "4520457136", "approve")
    await expect(page.get_by_text("Paid. Thank you!")).to_be_visible(timeout=15_000)
    assert await page.evaluate("window.__notReloaded === true")
    await page.screenshot(path="test-results/portal-paid.png", full_page=True)
    await page.get_by_role("link", name="Receipt").click()
    await expect(page.get_by_role("heading", name="Receipt")).to_be_visible()
    await page.goto(f"{demo.url}/portal")
    await expect(page.locator(".invoice-card")).to_have_count(before - 2)
    await page.context.close()


async def test_a_rejected_payment_offers_try_again(browser: Browser, demo: Demo) -> None:
    page = await _portal_page(browser, demo, "Café Havnen ApS")
    await page.locator(".invoice-card").first.get_by_role("link", name="Pay with MobilePay").click()
    await page.get_by_role("button", name="Send the request to my phone").click()
    await expect(page.get_by_text("Waiting for you to approve")).to_be_visible()
    await _approve_or_reject(browser, demo, "4552731844", "reject")
    await expect(page.get_by_text("You declined the payment in the app.")).to_be_visible()
    await page.screenshot(path="test-results/portal-rejected.png", full_page=True)
    await page.get_by_role("button", name="Try again").click()
    await expect(page.get_by_text("Waiting for you to approve")).to_be_visible()
    assert re.search(r"-1$", page.url)
    await page.context.close()


async def test_a_reused_or_expired_link_is_refused(browser: Browser, demo: Demo) -> None:
    context = await _phone_context(browser)
    page = await context.new_page()
    link = await _link_for(demo, "Ingrid Solberg")
    await _open_link(page, link)
    await page.locator("#portal-language").select_option("en")
    await expect(page.get_by_text("Open invoices")).to_be_visible()
    other = await (await _phone_context(browser)).new_page()
    response = await other.goto(link)
    assert response is not None and response.status == 410
    await expect(other.get_by_role("alert")).to_contain_text(re.compile("expired|brukt|udløbet"))
    expired = await other.goto(await _link_for(demo, "Ingrid Solberg", expired=True))
    assert expired is not None and expired.status == 410
    await other.screenshot(path="test-results/portal-link-refused.png", full_page=True)
    await context.close()
    await other.context.close()
    await asyncio.sleep(0)


async def test_a_qr_code_shows_and_a_phone_can_open_its_link(browser: Browser, demo: Demo) -> None:
    page = await _portal_page(browser, demo, "Nordlys Frisør")
    await page.locator(".invoice-card").first.get_by_role("link", name="Pay with MobilePay").click()
    await page.get_by_role("button", name="Show a QR code to scan").click()
    await expect(page.get_by_text("Waiting for you to approve")).to_be_visible()

    code = page.locator("figure.qr-code svg")
    await expect(code).to_be_visible()
    box = await code.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100
    open_app = page.get_by_role("link", name=re.compile("Open the Vipps MobilePay app"))
    assert (await open_app.get_attribute("href") or "").startswith(
        f"{demo.url}/sandbox/vipps/landing?"
    )
    await page.screenshot(path="test-results/portal-qr.png", full_page=True)
    await page.context.close()


async def test_an_invoice_with_a_waiting_request_is_followed_not_paid_again(
    browser: Browser, demo: Demo
) -> None:
    page = await _portal_page(browser, demo, "Fjordbakeriet AS")
    first = page.locator(".invoice-card").first
    number = (await first.locator(".invoice-link").inner_text()).strip()
    await first.get_by_role("link", name="Pay with MobilePay").click()
    await page.get_by_role("button", name="Send the request to my phone").click()
    await expect(page.get_by_text("Waiting for you to approve")).to_be_visible()
    payment_url = page.url

    await page.goto(f"{demo.url}/portal")
    card = page.locator(".invoice-card", has_text=number)
    await expect(card.get_by_role("link", name="Follow")).to_be_visible()
    await expect(card.locator("[data-countdown-ms]")).to_have_text(re.compile(r"\d"))
    await expect(card.get_by_role("checkbox")).to_have_count(0)
    await expect(card.get_by_role("link", name="Pay with MobilePay")).to_have_count(0)
    await page.screenshot(path="test-results/portal-waiting-invoice.png", full_page=True)
    await card.get_by_role("link", name="Follow").click()
    await expect(page.get_by_text("Waiting for you to approve")).to_be_visible()
    assert page.url == payment_url
    await page.context.close()
