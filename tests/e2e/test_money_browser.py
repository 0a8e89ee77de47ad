"""Issue 12 part 6 in a real browser: on the customer card a staff member records a bank
transfer (a second window of the card sees it arrive live), undoes it with a reason, records a
payment for one invoice that leaves credit, and applies that credit to the next invoice. Then
credit arriving while a card is open: the apply form and the invoice choices follow it live,
without losing what is being typed, and an application of credit is taken back with a reason."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from tests.e2e.demo import Demo, open_card, sign_in

CUSTOMER = "Haugen Rørlegger AS"
LIVE_CUSTOMER = "Ingrid Solberg"  # four open invoices, none in a request


async def _open_invoices(page: Page) -> list[tuple[str, int]]:
    """(invoice id, open amount in øre) of the card's open invoices, oldest due first."""
    boxes = page.locator("[data-send-form] input[name=invoice_ids]")
    found = []
    for i in range(await boxes.count()):
        box = boxes.nth(i)
        found.append(
            (await box.get_attribute("value") or "", int(await box.get_attribute("data-open") or 0))
        )
    return found


def _kroner(minor: int) -> str:
    return f"{minor // 100},{minor % 100:02d}"


async def _record(page: Page, amount: int, *, reference: str, invoice: str | None = None) -> None:
    form = page.locator("[data-record-payment]")
    await form.locator("summary").click()
    await form.get_by_label("Amount").fill(_kroner(amount))
    await form.get_by_label("Method").select_option("bank_transfer")
    await form.get_by_label("Reference (bank reference, KID)").fill(reference)
    if invoice is not None:
        await form.locator(f"input[name=invoice_ids][value='{invoice}']").check()
    await form.get_by_role("button", name="Record payment").click()


async def test_record_undo_and_apply_credit_on_the_card(
    page: Page, browser: Browser, demo: Demo
) -> None:
    await sign_in(page, demo)
    await open_card(page, demo, CUSTOMER)
    invoices = await _open_invoices(page)
    assert len(invoices) >= 2, invoices
    total = sum(amount for _, amount in invoices)

    watcher_context = await browser.new_context(locale="en-GB")
    watcher = await watcher_context.new_page()
    await sign_in(watcher, demo)
    await open_card(watcher, demo, CUSTOMER)
    await expect(watcher.locator("tr[data-manual-payment]")).to_have_count(0)

    # 1. A bank transfer of everything open plus 100 kr: all paid, 100 kr credit.
    await _record(page, total + 10_000, reference="KID 4455667")
    await expect(page.get_by_role("status")).to_contain_text("recorded")
    await expect(page.get_by_role("status")).to_contain_text("became customer credit")
    row = page.locator("tr[data-manual-payment]").first
    await expect(row).to_contain_text("Bank transfer")
    await expect(row).to_contain_text("KID 4455667")
    for invoice_id, _ in invoices:
        await expect(
            page.locator(f"tr[data-invoice='{invoice_id}'] [data-invoice-status]")
        ).to_have_text("Paid")
    await expect(page.locator("[data-credit-available]")).to_contain_text("100.00")
    # ... and the other window saw it arrive, without a reload.
    await expect(watcher.locator("tr[data-manual-payment]")).to_have_count(1)
    await expect(watcher.locator("tr[data-manual-payment]")).to_contain_text("KID 4455667")
    await watcher_context.close()

    # 2. Undo it: the invoices are open again and the credit is gone.
    await row.locator("summary", has_text="Undo").click()
    await row.get_by_label("Why is it undone?").fill("Wrong customer")
    await row.get_by_role("button", name="Undo payment").click()
    await expect(page.get_by_role("status")).to_contain_text("undone")
    row = page.locator("tr[data-manual-payment]").first
    await expect(row).to_contain_text("Undone")
    await expect(row).to_contain_text("Wrong customer")
    await expect(page.locator("[data-credit-available]")).to_have_text(
        "The customer has no credit."
    )
    for invoice_id, _ in invoices:
        await expect(
            page.locator(f"tr[data-invoice='{invoice_id}'] [data-invoice-status]")
        ).not_to_have_text("Paid")

    # 3. Cash for the oldest invoice, 50 kr too much; then that credit to the next invoice.
    (first, first_open), (second, second_open) = invoices[0], invoices[1]
    await _record(page, first_open + 5_000, reference="Receipt 17", invoice=first)
    await expect(page.locator(f"tr[data-invoice='{first}'] [data-invoice-status]")).to_have_text(
        "Paid"
    )
    apply = page.locator("[data-apply-credit]")
    await apply.locator("summary").click()
    await apply.locator(f"input[name=invoice_ids][value='{second}']").check()
    await apply.get_by_role("button", name="Apply credit").click()
    await expect(page.get_by_role("status")).to_contain_text(
        re.compile(r"50\.00 of credit applied to invoice")
    )
    await expect(page.locator(f"tr[data-invoice='{second}'] [data-invoice-status]")).to_have_text(
        "Paid" if second_open <= 5_000 else "Partly paid"
    )
    await expect(page.locator("[data-credit-available]")).to_have_text(
        "The customer has no credit."
    )


async def test_credit_arriving_live_shows_the_apply_form_then_it_is_taken_back(
    page: Page, browser: Browser, demo: Demo
) -> None:
    await sign_in(page, demo)
    await open_card(page, demo, LIVE_CUSTOMER)
    (first, first_open), (second, second_open) = (await _open_invoices(page))[:2]
    apply = page.locator("[data-apply-credit]")
    await expect(apply).to_have_count(0)
    # A person starts recording a payment by hand, and is still typing the reference.
    record = page.locator("[data-record-payment]")
    await record.locator("summary").click()
    await record.get_by_label("Amount").fill("123,45")
    await record.locator(f"input[name=invoice_ids][value='{second}']").check()
    reference = record.get_by_label("Reference (bank reference, KID)")
    await reference.fill("KID 77")

    # Meanwhile, in another window, a payment for the oldest invoice leaves 50 kr credit.
    other_context = await browser.new_context(locale="en-GB")
    other = await other_context.new_page()
    await sign_in(other, demo)
    await open_card(other, demo, LIVE_CUSTOMER)
    await _record(other, first_open + 5_000, reference="Receipt 99", invoice=first)
    await expect(other.get_by_role("status")).to_contain_text("became customer credit")

    # The first window offers the credit without a reload; the paid invoice is no choice any
    # more, and the half-filled form is as it was, the reference still being typed.
    await expect(apply).to_have_count(1)
    await expect(page.locator("[data-credit-available]")).to_contain_text("50.00")
    await expect(record.locator(f"input[name=invoice_ids][value='{first}']")).to_have_count(0)
    await expect(apply.locator(f"input[name=invoice_ids][value='{first}']")).to_have_count(0)
    await expect(record.locator(f"input[name=invoice_ids][value='{second}']")).to_be_checked()
    await expect(record).to_have_attribute("open", "")
    await expect(record.get_by_label("Amount")).to_have_value("123,45")
    await expect(reference).to_be_focused()
    await page.keyboard.type(" 88")
    await expect(reference).to_have_value("KID 77 88")

    # The other window applies the credit (oldest due first: the second invoice): the first
    # window's apply form goes, and the application is listed.
    await other.locator("[data-apply-credit] summary").click()
    await other.get_by_role("button", name="Apply credit").click()
    await expect(other.get_by_role("status")).to_contain_text("of credit applied to invoice")
    await other_context.close()
    await expect(apply).to_have_count(0)
    applied = page.locator("tr[data-applied-credit]")
    await expect(applied).to_have_count(1)
    await expect(applied).to_contain_text("50.00")
    status = page.locator(f"tr[data-invoice='{second}'] [data-invoice-status]")
    await expect(status).to_have_text("Partly paid" if second_open > 5_000 else "Paid")

    # It went to the wrong invoice: take it back, with a reason.
    await applied.locator("summary", has_text="Take back").click()
    await applied.get_by_label("Why is it taken back?").fill("Meant for a later invoice")
    await applied.get_by_role("button", name="Take back credit").click()
    await expect(page.get_by_role("status")).to_contain_text("of credit taken back from invoice")
    applied = page.locator("tr[data-applied-credit]")
    await expect(applied).to_contain_text("Taken back")
    await expect(applied).to_contain_text("Meant for a later invoice")
    await expect(status).to_have_text("Open")
    await expect(page.locator("[data-credit-available]")).to_contain_text("50.00")
    await expect(apply).to_have_count(1)
