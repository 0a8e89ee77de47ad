"""Under the Content-Security-Policy (web.security_headers: scripts and styles from our origin
only) every page that uses scripts still works in a real browser, and the browser reports no
violation: the language menu, the customer card's live stream and running total, the invoice
form's extra lines, and the phone emulator with its style sheet."""

from __future__ import annotations

import re

from playwright.async_api import Browser, ConsoleMessage, Page, Response, expect

from tests.e2e.demo import Demo, open_card, phone_context, sign_in

WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


class Watcher:
    """Console errors, uncaught errors and CSP violations of one page."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("response", self._response)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        # A failed load is logged too; which ones matter is decided in _response.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(f"console: {message.text}")

    def _response(self, response: Response) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.errors.append(f"{response.status} {response.url}")

    async def check(self) -> None:
        violations = await self.page.evaluate("window.__violations || []")
        assert violations == [] and self.errors == [], (violations, self.errors)


def _guarded(response: Response | None) -> None:
    assert response is not None
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy, policy


async def test_staff_pages_work_under_the_policy_without_a_violation(
    page: Page, demo: Demo
) -> None:
    await page.context.add_init_script(WATCH)
    watcher = Watcher(page)
    await sign_in(page, demo)  # its language menu submits itself (static/page.js)
    _guarded(await page.goto(f"{demo.url}/customers"))
    await open_card(page, demo, "Fjordbakeriet AS")  # the live stream opens (static/live.js)
    await page.locator("input[name=invoice_ids]").first.check()
    await expect(page.locator("[data-request-total]")).to_have_text(re.compile(r"\d"))
    await watcher.check()

    _guarded(await page.goto(f"{demo.url}/invoices/new"))
    lines = page.locator("tr[data-line]")
    before = await lines.count()
    await page.get_by_role("button", name="Add a line").click()  # static/invoice-form.js
    await expect(lines).to_have_count(before + 1)
    await watcher.check()


async def test_the_phone_emulator_works_under_the_policy_without_a_violation(
    browser: Browser, demo: Demo
) -> None:
    context = await phone_context(browser, demo)
    await context.add_init_script(WATCH)
    phone = await context.new_page()
    watcher = Watcher(phone)
    _guarded(await phone.goto(f"{demo.url}/sandbox/vipps/phone"))
    await phone.get_by_label("Phone number").fill("+47 918 34 562")
    await phone.get_by_role("button", name="Open").click()  # static/phone.js
    await expect(phone).to_have_url(re.compile(r"/sandbox/vipps/phone/4791834562$"))
    header = phone.locator("header").first
    await expect(header).to_have_css("background-color", "rgb(90, 46, 229)")  # phone.css
    await phone.wait_for_timeout(1800)  # one poll of the live fragment
    await watcher.check()
    await context.close()
