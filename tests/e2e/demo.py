"""The running demo the browser tests drive, and the steps they share: choosing the language,
signing in, opening a customer card, a phone holding the emulator key."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, expect

from tests import servers
from tests.emulator_access import key_of_var_dir

OWNER = ("kari@example.no", "a demo password")  # the demo's owner account: (email, password)


@dataclass(frozen=True)
class Demo:
    url: str
    tmp: Path  # its working folder, where its SQLite database lives

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.tmp / 'payrequest.db'}"

    @property
    def emulator_key(self) -> str:
        """The key in the phone emulator link the demo printed at start."""
        return key_of_var_dir(self.tmp / "var")


@contextmanager
def start_demo(tmp: Path) -> Iterator[Demo]:
    """`payrequest demo` in `tmp` with OWNER as its owner account, until the block ends."""
    env = {"PAYREQUEST_ADMIN_EMAIL": OWNER[0], "PAYREQUEST_ADMIN_PASSWORD": OWNER[1]}
    with servers.running_demo(tmp, **env) as (url, _process):
        yield Demo(url, tmp)


async def phone_context(browser: Browser, demo: Demo, **options: Any) -> BrowserContext:
    """A browser (a phone) that opened the emulator link the demo printed, so the emulator's
    phone pages answer it: the key went into a cookie, and the address lost it."""
    context = await browser.new_context(**options)
    page = await context.new_page()
    await page.goto(f"{demo.url}/sandbox/vipps/phone?key={demo.emulator_key}")
    await expect(page.get_by_role("heading", name="Sandbox phones")).to_be_visible()
    assert "key=" not in page.url
    await page.close()
    return context


async def choose_language(page: Page, language: str) -> None:
    """The language menu in the page header; the demo's staff read Norwegian by default."""
    await page.locator("#language").select_option(language)
    await expect(page.locator("html")).to_have_attribute("lang", language)


async def sign_in(page: Page, demo: Demo, who: tuple[str, str] = OWNER) -> None:
    """Sign in as `who` (email, password) and read the pages in English, for stable selectors
    (the language menu is found by its id, whatever the language)."""
    await page.goto(f"{demo.url}/login")
    await page.get_by_label("Email").fill(who[0])
    await page.get_by_label("Password").fill(who[1])
    await page.get_by_role("button", name="Sign in").click()
    await choose_language(page, "en")
    await expect(page.get_by_role("heading", name=re.compile("Customers"))).to_be_visible()
    await expect(page.get_by_role("link", name="Customers", exact=True)).to_be_visible()


async def open_card(page: Page, demo: Demo, name: str) -> None:
    """The customer card of `name`, found by searching its first word, with its live stream
    open."""
    await page.goto(f"{demo.url}/customers?q={name.split()[0]}")
    await page.get_by_role("link", name=name).click()
    await expect(page.get_by_role("heading", name=name)).to_be_visible()
    await expect(page.locator("[data-live-state][data-on]")).to_have_count(1)  # stream open
