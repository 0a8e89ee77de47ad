"""Phone-number sharing in a real browser: staff send a QR request to a customer without a
number, the payer scans it, shares their number and approves on the emulator's phone; the card
offers the learned number, staff use it, and the next request is a push to that number."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from payrequest.customers.models import Customer
from payrequest.db.session import create_engine, session_factory
from payrequest.payment_requests.models import PaymentRequest
from tests.e2e.demo import Demo, open_card, phone_context, sign_in

CUSTOMER = "Sander Bakke"
MSISDN = "4791834562"  # +47 918 34 562


async def forget_the_number(demo: Demo) -> None:
    """The demo customer has a number; this one's staff never wrote it down."""
    engine = create_engine(demo.database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            stmt = select(Customer).where(Customer.name == CUSTOMER)
            customer = (await session.execute(stmt)).scalar_one()
            customer.phone = None
    finally:
        await engine.dispose()


async def newest_request(demo: Demo) -> PaymentRequest:
    engine = create_engine(demo.database_url)
    try:
        async with session_factory(engine)() as session:
            stmt = (
                select(PaymentRequest)
                .join(Customer, Customer.id == PaymentRequest.customer_id)
                .where(Customer.name == CUSTOMER)
                .order_by(PaymentRequest.id.desc())
                .limit(1)
            )
            return (await session.execute(stmt)).scalar_one()
    finally:
        await engine.dispose()


async def scan_share_and_approve(browser: Browser, demo: Demo, redirect_url: str) -> None:
    """The payer opens what the QR code stands for, gives their number, consents, approves."""
    token = re.search(r"(?:token=|/qr/)([A-Za-z0-9_-]+)", redirect_url)
    assert token, redirect_url
    context = await phone_context(browser, demo, viewport={"width": 420, "height": 900})
    phone = await context.new_page()
    await phone.goto(f"{demo.url}/sandbox/vipps/landing?token={token.group(1)}")
    await phone.get_by_label(re.compile("Your mobile number")).fill(MSISDN)
    await phone.get_by_role("button", name="Continue in the app").click()
    await expect(phone.get_by_text("asks for: your phone number")).to_be_visible()
    await phone.get_by_role("button", name="Share & continue").click()
    await phone.get_by_role("button", name="Approve").click()
    await expect(phone.locator(".card.request")).to_have_count(0)
    await context.close()


async def test_a_shared_number_is_offered_used_and_pushed_to_next_time(
    page: Page, browser: Browser, demo: Demo
) -> None:
    await forget_the_number(demo)
    await sign_in(page, demo)
    await open_card(page, demo, CUSTOMER)
    phone_field = page.locator("#send-phone")
    await expect(phone_field).to_have_value("")
    await page.locator("input[name=invoice_ids]").first.check()
    await page.get_by_role("button", name="Send MobilePay request").click()
    await expect(page.locator("[data-request] [data-status]").first).to_have_text(
        "Waiting for customer"
    )
    request = await newest_request(demo)
    assert (request.user_flow, request.share_phone) == ("qr", True)
    assert request.redirect_url
    await page.evaluate("window.__notReloaded = true")

    await scan_share_and_approve(browser, demo, request.redirect_url)

    await expect(page.locator("[data-request] [data-status]").first).to_have_text("Paid")
    offer = page.locator("[data-phone-suggestion]")
    await expect(offer).to_contain_text(f"Learned from payment {request.reference} on ")
    await expect(offer).to_contain_text("+47 91 83 45 62; use it for next requests?")
    assert await page.evaluate("window.__notReloaded === true")  # it came live
    await page.screenshot(path="test-results/phone-suggestion.png", full_page=True)

    await offer.get_by_role("button", name="Use this number").click()
    await expect(
        page.get_by_text("The number is now the customer's mobile number.")
    ).to_be_visible()
    await expect(page.locator("[data-phone-suggestion]")).to_have_count(0)
    await expect(page.locator("[data-customer-phone]")).to_have_text("+47 91 83 45 62")
    await expect(phone_field).to_have_value("+4791834562")  # the next request is pre-filled
    await expect(page.locator("input[name=flow][value=push]")).to_be_checked()

    await page.locator("input[name=invoice_ids]").first.check()
    await page.get_by_role("button", name="Send MobilePay request").click()
    await expect(page.locator("[data-request] [data-status]").first).to_have_text(
        "Waiting for customer"
    )
    pushed = await newest_request(demo)
    assert (pushed.user_flow, pushed.phone, pushed.share_phone) == ("push", "+4791834562", False)
    on_phone = await phone_context(browser, demo, viewport={"width": 420, "height": 900})
    app = await on_phone.new_page()
    await app.goto(f"{demo.url}/sandbox/vipps/phone/{MSISDN}")
    await expect(app.locator(".card.request")).to_have_count(1)  # the push reached that phone
    await on_phone.close()
