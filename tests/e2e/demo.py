"""The running demo the browser tests drive, and the steps they share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Page, expect

from tests import servers

OWNER = ("kari@example.no", "a demo password")  # the demo's owner account: (email, password)


@dataclass(frozen=True)
class Demo:
    url: str
    tmp: Path  # its working folder, where its SQLite database lives

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.tmp / 'payrequest.db'}"


@contextmanager
def start_demo(tmp: Path) -> Iterator[Demo]:
    """`payrequest demo` in `tmp` with OWNER as its owner account, until the block ends."""
    env = {"PAYREQUEST_ADMIN_EMAIL": OWNER[0], "PAYREQUEST_ADMIN_PASSWORD": OWNER[1]}
    with servers.running_demo(tmp, **env) as (url, _process):
        yield Demo(url, tmp)


async def choose_language(page: Page, language: str) -> None:
    """The language menu in the page header; the demo's staff read Norwegian by default."""
    await page.locator("#language").select_option(language)
    await expect(page.locator("html")).to_have_attribute("lang", language)
