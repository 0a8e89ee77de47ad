"""Issue 18's ladder in a real browser, on the demo with the emulator's clock moved forward:
the owner switches on the first three steps of the ready-made reminder ladder; three days
before the due date the customer's phone gets the reminder SMS, on the due date a payment
request, which the customer approves; the invoice is paid, and the ladder's next step (an
email a week after) never comes. The card shows what was sent and what is next."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from payrequest.automations import timing
from payrequest.web.emulator_access import KEY_COOKIE
from tests import servers
from tests.e2e.demo import OWNER, Demo, phone_context, sign_in

OSLO = timing.time_zone("NO")
PHONE, MSISDN = "+47 412 34 567", "4741234567"
STEPS = ("Reminder ladder 1", "Reminder ladder 2", "Reminder ladder 3")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo, its scheduler looking every second (the default is every 30 s)."""
    tmp = tmp_path_factory.mktemp("ladder")
    env = {
        "PAYREQUEST_ADMIN_EMAIL": OWNER[0],
        "PAYREQUEST_ADMIN_PASSWORD": OWNER[1],
        "PAYREQUEST_AUTOMATIONS__SCHEDULE_SECONDS": "1",
    }
    with servers.running_demo(tmp, **env) as (url, _process):
        yield Demo(url, tmp)


def _first_step_day() -> date:
    """A Monday or Tuesday from tomorrow on: its due date three days later is a weekday too,
    so the ladder's quiet weekends never hold a step back."""
    day = datetime.now(OSLO).date() + timedelta(days=1)
    while day.weekday() not in (0, 1):
        day += timedelta(days=1)
    return day


async def _move_clock_to(demo: Demo, day: date) -> None:
    """The emulator's clock (which reminders follow in sandbox mode) to 10:00 on `day`."""
    async with httpx.AsyncClient(
        base_url=demo.url, cookies={KEY_COOKIE: demo.emulator_key}
    ) as http:
        clock = (await http.post("/sandbox/vipps/clock/advance", json={"seconds": 0})).json()
        now = datetime.fromisoformat(clock["now"])
        target = datetime(day.year, day.month, day.day, 10, tzinfo=OSLO)
        moved = await http.post(
            "/sandbox/vipps/clock/advance",
            json={"seconds": (target - now).total_seconds()},
        )
        assert moved.status_code == 200, moved.text


async def _reload_until(page: Page, text: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while text not in await page.content():
        assert time.monotonic() < deadline, f"{text!r} did not show within {within} s"
        await asyncio.sleep(1)
        await page.reload()


async def test_the_ladder_reminds_then_asks_and_stops_once_paid(
    page: Page, browser: Browser, demo: Demo
) -> None:
    first = _first_step_day()
    due = first + timedelta(days=3)
    await sign_in(page, demo)

    await page.goto(f"{demo.url}/customers/new")
    await page.get_by_label("Name").fill("Lise Lader")
    await page.get_by_label("Email").fill("lise@lader.example")
    await page.locator("#phone").fill(PHONE)
    await page.locator("#locale").select_option("en")
    await page.get_by_label("May use the customer portal").check()  # the SMS links to it
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("heading", name=re.compile("Lise Lader"))).to_be_visible()
    await page.goto(f"{demo.url}/invoices/new")
    lise = page.locator("#customer_id option", has_text="Lise Lader")
    await page.get_by_label("Customer").select_option(await lise.get_attribute("value"))
    await page.get_by_label("Invoice number").fill("LADDER-1")
    await page.get_by_label("Due date").fill(due.isoformat())
    await page.get_by_label("Description, line 1").fill("Garden work")
    await page.get_by_label("Unit price, line 1").fill("500")
    await page.get_by_label("VAT rate, line 1").select_option("0")
    await page.get_by_role("button", name="Create invoice").click()
    await expect(page.get_by_role("heading", name=re.compile("Invoice LADDER-1"))).to_be_visible()

    await page.goto(f"{demo.url}/flows")
    for step in STEPS:
        row = page.locator("tr", has_text=step)
        await row.locator("[data-flow-switch]").click()
        await expect(
            page.locator("tr", has_text=step).locator("[data-flow-switch]")
        ).to_have_attribute("aria-checked", "true")

    phone_browser = await phone_context(browser, demo, viewport={"width": 420, "height": 900})
    phone = await phone_browser.new_page()
    await phone.goto(f"{demo.url}/sandbox/vipps/phone/{MSISDN}")

    await _move_clock_to(demo, first)  # three days before the due date
    await _reload_until(phone, "a friendly reminder: invoice LADDER-1")
    await _move_clock_to(demo, due)  # the due date: the request sends itself
    await _reload_until(phone, "LADDER-1", within=5)
    await expect(phone.locator(".card.request")).to_have_count(1, timeout=30_000)
    await phone.screenshot(path="test-results/ladder-phone.png")
    await phone.locator(".card.request .approve").first.click()
    await expect(phone.locator(".card.request")).to_have_count(0)

    await page.goto(f"{demo.url}/customers?q=Lise")
    await page.get_by_role("link", name="Lise Lader").click()
    sent = page.locator("[data-reminders-sent] li")
    await expect(sent).to_have_count(2)
    await expect(sent.first).to_contain_text("Reminder ladder 2")
    # The reminders part of the card is drawn when the page loads: once the capture has
    # made the invoice paid (seconds after the approval), a reload shows nothing more to come.
    deadline = time.monotonic() + 30
    while await page.locator("[data-reminders-next]").count():
        assert time.monotonic() < deadline, "the paid invoice still has reminders to come"
        await asyncio.sleep(1)
        await page.reload()

    await _move_clock_to(demo, due + timedelta(days=8))  # past the email's day: paid, none
    await asyncio.sleep(3)  # three scheduler rounds
    await page.reload()
    await expect(page.locator("[data-reminders-sent] li")).to_have_count(2)
    await page.screenshot(path="test-results/ladder-card.png", full_page=True)
    await phone_browser.close()
