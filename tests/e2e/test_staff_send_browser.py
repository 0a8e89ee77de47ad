"""The customer card's send form and requests list in a real browser: QR requests with their
code and link, the number check that holds Send back without stretching the form, the amount
kept in step with the ticked invoices, the expiry countdown, the success message that goes
once the live status arrives, invoices the sales unit cannot take, and a 390 px phone."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from tests.e2e.demo import Demo, open_card, phone_context, sign_in

SEND = "Send MobilePay request"


async def no_sideways_scroll(page: Page) -> None:
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px"


async def test_a_qr_request_shows_its_code_and_link_until_the_customer_pays(
    page: Page, browser: Browser, demo: Demo
) -> None:
    await sign_in(page, demo)
    await open_card(page, demo, "Haugen Rørlegger AS")
    await page.locator("input[name=invoice_ids]").first.check()
    await page.get_by_label("QR code / link").check()
    await expect(page.locator("[data-qr-note]")).to_contain_text("has to scan the QR code")
    await page.get_by_role("button", name=SEND).click()
    message = page.locator("[data-live-dismiss]")
    await expect(message).to_have_text("Payment request sent.")

    row = page.locator("[data-request]").first
    await expect(row.locator("[data-status]")).to_have_text("Waiting for customer")
    await expect(row).to_contain_text(
        "The customer has to scan this QR code or open the link to pay."
    )
    await row.get_by_text("Show the QR code and link").click()
    await expect(row.locator("svg.qr")).to_be_visible()
    link = await row.locator("[data-payment-link]").get_attribute("href")
    assert link and "/sandbox/vipps/landing?token=" in link
    await expect(row.get_by_role("button", name="Send the payment link by SMS")).to_be_visible()

    # The customer opens the link (what the code stands for), gives their number, approves.
    context = await phone_context(browser, demo, viewport={"width": 420, "height": 900})
    phone = await context.new_page()
    await phone.goto(link)
    await phone.get_by_label("Your mobile number").fill("4748219305")
    await phone.get_by_role("button", name="Continue in the app").click()
    await phone.locator(".card.request .approve").first.click()
    await expect(phone.locator(".card.request")).to_have_count(0)
    await context.close()

    await expect(page.locator("[data-request]").first.locator("[data-status]")).to_have_text("Paid")
    await expect(page.locator("[data-request]").first.locator("svg.qr")).to_have_count(0)
    await expect(message).to_have_count(0)  # the live status took the message's place


async def test_an_invalid_number_holds_send_back_without_stretching_the_form(
    page: Page, demo: Demo
) -> None:
    await sign_in(page, demo)
    await open_card(page, demo, "Sander Bakke")
    await page.locator("input[name=invoice_ids]").first.check()
    send = page.get_by_role("button", name=SEND)
    await expect(send).to_be_enabled()  # the number on file passed the check
    number = page.locator("#send-phone")
    width_before = (await number.bounding_box() or {"width": 0})["width"]
    await number.fill("12345, which is much too long and no phone number anyone has ever had")
    await expect(number).to_have_attribute("aria-invalid", "true")
    await expect(send).to_be_disabled()
    hint = page.locator("[data-phone-hint]").first
    await expect(hint).to_contain_text("does not look like a phone number")
    field = await number.bounding_box()
    hint_box = await hint.bounding_box()
    assert field and hint_box
    assert field["width"] == width_before
    assert hint_box["x"] + hint_box["width"] <= field["x"] + field["width"] + 1
    await no_sideways_scroll(page)

    await number.fill("")  # a push needs a number ...
    await expect(send).to_be_disabled()
    await expect(hint).to_contain_text("or choose QR code / link")
    await page.get_by_label("QR code / link").check()  # ... a QR code or link does not
    await expect(send).to_be_enabled()
    await page.get_by_label("Push to their MobilePay app").check()
    await number.fill("405 66 781")
    await expect(send).to_be_enabled()


async def test_the_amount_follows_the_ticks_until_staff_type_their_own(
    page: Page, demo: Demo
) -> None:
    await sign_in(page, demo)
    await open_card(page, demo, "Fjordbakeriet AS")
    boxes = page.locator("input[name=invoice_ids]")
    amount = page.get_by_label("Amount to request")
    first = int(await boxes.nth(0).get_attribute("data-open") or 0)
    second = int(await boxes.nth(1).get_attribute("data-open") or 0)
    await boxes.nth(0).check()
    await expect(amount).to_have_value(f"{first / 100:.2f}")
    await boxes.nth(1).check()
    await expect(amount).to_have_value(f"{(first + second) / 100:.2f}")
    await amount.fill("100")
    await boxes.nth(1).uncheck()
    await expect(page.locator("[data-request-total]")).to_have_text(
        re.compile(rf"NOK\s?{first // 100:,}\.\d\d")
    )
    await expect(amount).to_have_value("100")

    await page.get_by_label("Expires after").select_option(label="1 hour")
    await page.get_by_role("button", name=SEND).click()
    row = page.locator("[data-request]").first
    await expect(row.locator("[data-status]")).to_have_text("Waiting for customer")
    await expect(row.locator("td.num")).to_have_text(re.compile(r"NOK\s?100\.00"))
    await expect(row.locator("[data-countdown-ms]")).to_have_text(re.compile(r"^\d{1,2}:\d\d$"))


async def test_an_invoice_the_sales_unit_cannot_take_is_flagged_where_made_and_listed(
    page: Page, demo: Demo
) -> None:
    await sign_in(page, demo)
    await open_card(page, demo, "Mette Kjær Hansen")  # Danish, invoiced in NOK
    await expect(page.locator("[data-unpayable]")).to_have_count(0)
    customer_id = page.url.rstrip("/").rsplit("/", 1)[1]
    await page.goto(f"{demo.url}/invoices/new?customer_id={customer_id}")
    currency = page.get_by_label("Currency")
    warning = page.locator("[data-currency-warning]")
    await expect(currency).to_have_value("DKK")  # the customer's country's currency
    await expect(warning).to_be_visible()
    await expect(warning).to_contain_text("takes payments in NOK only")
    await currency.select_option("NOK")
    await expect(warning).to_be_hidden()
    await currency.select_option("DKK")
    await expect(warning).to_be_visible()
    await page.get_by_label("Description, line 1").fill("Tømrerarbejde")
    await page.get_by_label("Unit price, line 1").fill("1000")
    await page.get_by_role("button", name="Create invoice").click()
    await expect(page.get_by_role("heading", name=re.compile("Invoice"))).to_be_visible()

    await open_card(page, demo, "Mette Kjær Hansen")
    await expect(page.locator("[data-unpayable]")).to_have_count(1)
    await expect(page.locator("[data-unpayable]")).to_have_text("DKK")
    await expect(page.locator("[data-unpayable-note]")).to_contain_text(
        "Invoices in DKK cannot be paid with MobilePay here"
    )
    await expect(page.get_by_role("button", name=SEND)).to_be_visible()  # NOK ones still can


async def test_the_card_works_on_a_390_px_phone(browser: Browser, demo: Demo) -> None:
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await context.new_page()
    await sign_in(page, demo)
    await open_card(page, demo, "Nordlys Frisør")
    await no_sideways_scroll(page)
    await page.locator("input[name=invoice_ids]").first.check()
    await page.get_by_label("QR code / link").check()
    send = page.get_by_role("button", name=SEND)
    await send.scroll_into_view_if_needed()
    await send.click()
    await expect(page.locator("[data-live-dismiss]")).to_have_text("Payment request sent.")
    await expect(page.locator("[data-request]").first.locator("[data-status]")).to_have_text(
        "Waiting for customer"
    )
    await no_sideways_scroll(page)
    await context.close()


async def test_the_customer_form_saves_with_the_number_left_empty(page: Page, demo: Demo) -> None:
    """Only the forms that send a request wait for a checked number, not a customer's own."""
    await sign_in(page, demo)
    await open_card(page, demo, "Haugen Rørlegger AS")
    await page.get_by_role("link", name="Edit").click()
    await page.get_by_label("Mobile").fill("")
    save = page.get_by_role("button", name="Save")
    await expect(save).to_be_enabled()
    await page.get_by_label("Mobile").fill("12")
    await expect(page.locator("[data-phone-hint]")).not_to_be_empty()  # the check answered
    await expect(save).to_be_enabled()
    await page.get_by_label("Mobile").fill("")
    await save.click()
    await expect(page.get_by_role("heading", name="Haugen Rørlegger AS")).to_be_visible()
    await expect(page.locator(".contact")).to_contain_text("—")


async def test_a_card_payment_link_asks_for_no_mobilepay_number_or_expiry(
    page: Page, demo: Demo
) -> None:
    """Choosing "Card payment link" hides MobilePay's number and expiry (neither is sent), says
    how long the link stays open, names the button after it, and sends a card payment."""
    await sign_in(page, demo)
    await open_card(page, demo, "Haugen Rørlegger AS")
    await page.locator("input[name=invoice_ids]").first.check()
    phone, expiry = page.locator("#send-phone"), page.locator("#send-expiry")
    await expect(phone).to_be_visible()
    await page.get_by_label("Card payment link").check()
    await expect(phone).to_be_hidden()
    await expect(expiry).to_be_hidden()
    await expect(phone).to_be_disabled()
    await expect(page.locator("[data-card-note]")).to_contain_text(
        "The link stays open for 23 hours 55 minutes."
    )
    send = page.locator("[data-send-button]")
    await expect(send).to_have_text("Send card payment link")
    await page.get_by_label("QR code / link").check()  # and back: MobilePay's fields return
    await expect(phone).to_be_visible()
    await expect(send).to_have_text(SEND)
    await page.get_by_label("Card payment link").check()
    await send.click()
    row = page.locator("[data-request]").first
    await expect(row.locator("[data-status]")).to_have_text("Waiting for customer")
    await expect(row.locator("[data-card-link]")).to_be_visible()
