"""Issue 12 part 6 in a real browser: on the customer card a staff member records a bank
transfer (a second window of the card sees it arrive live), undoes it with a reason, records a
payment for one invoice that leaves credit, and applies that credit to the next invoice."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from tests.e2e.demo import Demo
from tests.e2e.test_staff_flow_browser import open_card, sign_in

CUSTOMER = "Haugen Rørlegger AS"


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
