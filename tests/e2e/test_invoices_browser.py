"""A staff member writes an invoice by hand in a real browser, adding a line row with the
page's script, and finds it in the list; imports customers and invoices from CSV files
(preview, dry run, import) and downloads the payments export."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
from playwright.async_api import FilePayload, Page, expect

from tests.e2e.demo import OWNER, Demo, choose_language, sign_in

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


CUSTOMERS_CSV = "external_id;name;phone\nWEB-C1;Nettbutikken AS;+47 912 00 001\n"
INVOICES_CSV = (
    "external_id;number;customer_external_id;due_date;description;quantity;unit_price;vat_rate\n"
    "WEB-F1;WEB-2027-1;WEB-C1;15.03.2027;Konsulenttimer;7,5;1 100,00;25\n"
    "WEB-F1;;;;Reise;1;450;25\n"
    "WEB-F2;WEB-2027-2;WEB-C1;31.02.2027;Lisens;1;99;25\n"
)


async def _import(page: Page, demo: Demo, what: str, name: str, text: str) -> None:
    await page.goto(f"{demo.url}/imports")
    await page.get_by_label("What the file holds").select_option(what)
    payload: FilePayload = {"name": name, "mimeType": "text/csv", "buffer": text.encode()}
    await page.get_by_label("CSV file").set_input_files(files=[payload])
    await page.get_by_role("button", name="Upload and preview").click()
    await expect(page.get_by_role("heading", name=re.compile("Import from CSV"))).to_be_visible()


async def test_import_customers_and_invoices_from_csv_and_export_the_payments(
    page: Page, demo: Demo
) -> None:
    await page.goto(f"{demo.url}/login")
    await page.get_by_label("Email").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await choose_language(page, "en")
    await page.goto(f"{demo.url}/invoices")
    await page.get_by_role("link", name="Import from CSV").click()

    await _import(page, demo, "customers", "customers.csv", CUSTOMERS_CSV)
    await page.get_by_role("button", name="Import", exact=True).click()
    await expect(page.locator("[data-created]")).to_have_text("1")

    await _import(page, demo, "invoices", "invoices.csv", INVOICES_CSV)
    preview = page.locator("[data-import-preview]")
    await expect(preview.locator("tr[data-row='3']")).to_contain_text("Reise")
    errors = page.locator("[data-import-errors]")
    await expect(errors.locator("tr[data-row='4']")).to_contain_text("is not a date")
    SHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SHOTS / "import_preview.png"), full_page=True)
    await page.get_by_role("button", name="Dry run (write nothing)").click()
    await expect(page.get_by_role("heading", name="Dry run: nothing was written")).to_be_visible()
    await expect(page.locator("[data-created]")).to_have_text("1")
    await page.get_by_role("button", name="Import", exact=True).click()
    await expect(page.locator("[data-created]")).to_have_text("1")
    await expect(page.locator("[data-refused]")).to_have_text("1")
    await page.goto(f"{demo.url}/invoices?q=WEB-2027")
    await expect(page.get_by_role("link", name="WEB-2027-1")).to_be_visible()

    await page.goto(f"{demo.url}/requests")
    await page.get_by_label("From").fill("2000-01-01")
    async with page.expect_download() as downloading:
        await page.get_by_role("button", name="Download CSV").click()
    download = await downloading.value
    assert re.fullmatch(r"payments-2000-01-01-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename)
    text = await asyncio.to_thread(Path(await download.path()).read_text, "utf-8")
    assert text.startswith("date,time,type,payment,customer_number,customer_name,invoice_number")
    assert ",payment," in text  # the demo's paid invoices


async def test_an_owner_makes_an_api_key_uses_it_and_revokes_it(page: Page, demo: Demo) -> None:
    """Settings → API keys: the key is shown once, works on the API at once, is listed by its
    prefix with its last use, and stops working when revoked; Settings → Webhook endpoints
    shows a new endpoint's signing secret once."""
    await sign_in(page, demo)
    await page.goto(f"{demo.url}/settings/api-keys")
    await page.get_by_label("Name").fill("Regnskap")
    await page.get_by_label("Access").select_option("write")
    await page.get_by_role("button", name="Create key").click()
    shown = page.locator("[data-api-key-value]")
    await expect(shown).to_have_value(re.compile(r"^prk_"))
    key = await shown.input_value()
    row = page.locator(f"[data-api-key='{key[:12]}']")
    await expect(row).to_contain_text("Read and write")
    await expect(row).to_contain_text("Never")

    async with httpx.AsyncClient(base_url=demo.url) as api:
        answered = await api.get("/api/v1/customers", headers={"Authorization": f"Bearer {key}"})
        assert answered.status_code == 200, answered.text
        assert answered.json()["data"], "the demo's customers"

        await page.goto(f"{demo.url}/settings/api-keys")
        assert key not in await page.content()  # shown once only
        await expect(row.locator("td").nth(4)).not_to_have_text("Never")
        await row.get_by_role("button", name="Revoke").click()
        await expect(row).to_have_attribute("data-revoked", "yes")
        refused = await api.get("/api/v1/customers", headers={"Authorization": f"Bearer {key}"})
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")

    await page.goto(f"{demo.url}/settings/webhook-endpoints")
    await page.get_by_label("Address (URL)").fill("https://93.184.216.34/payrequest-hooks")
    await page.get_by_label("Description").fill("ERP")
    await page.locator("input[name=event_types][value='invoice.paid']").check()
    await page.get_by_role("button", name="Add endpoint").click()
    secret = page.locator("#new-secret")
    await expect(secret).to_have_value(re.compile(r"^whsec_"))
    value = await secret.input_value()
    await page.reload()  # the browser sends the form again: nothing is made twice
    await expect(page.locator(".flash-error")).to_contain_text("That form was sent already")
    assert value not in await page.content()
    hooks = page.get_by_role("link", name="https://93.184.216.34/payrequest-hooks")
    await expect(hooks).to_have_count(1)
