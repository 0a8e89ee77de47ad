"""Forgot your password?: a link by email (a real SMTP server), the same answer for an email
without an account, a link that works once, ends the account's sessions and is throttled.
Invitations use the same kind of link."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.mailbox import Mailbox
from tests.staff import PASSWORD, built_app, client_from, create_staff, csrf_of, sign_in

COOKIE = "payrequest_session"
NEW_PASSWORD = "a brand new password"


def _link(mailbox: Mailbox) -> str:
    """The reset or invitation link in the newest email (its path and query)."""
    text = mailbox.last_text()
    match = re.search(r"http://testserver(/password/set\?token=\S+)", text)
    assert match, text
    return match.group(1)


@pytest.fixture
async def app(
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    mailbox_server: tuple[Mailbox, int],
) -> AsyncIterator[object]:
    await create_staff(sessions, roles=("owner", "staff"))
    smtp = {
        "host": "127.0.0.1",
        "port": mailbox_server[1],
        "starttls": False,
        "sender": "Shop AS <shop@example.no>",
    }
    async with built_app(database_url, tmp_path, run_worker=False, smtp=smtp) as app:
        yield app


async def ask_for_link(client: httpx.AsyncClient, email: str) -> httpx.Response:
    token = csrf_of((await client.get("/password/forgot")).text)
    return await client.post("/password/forgot", data={"email": email, "csrf": token})


async def set_password(client: httpx.AsyncClient, link: str, password: str) -> httpx.Response:
    page = await client.get(link)
    assert page.status_code == 200
    token = link.split("token=", 1)[1]
    return await client.post(
        "/password/set",
        data={
            "csrf": csrf_of(page.text),
            "token": token,
            "password": password,
            "repeated": password,
        },
    )


async def sign_in_with(client: httpx.AsyncClient, email: str, password: str) -> int:
    token = csrf_of((await client.get("/login")).text)
    response = await client.post(
        "/login", data={"email": email, "password": password, "csrf": token}
    )
    return response.status_code


async def test_a_reset_link_sets_a_new_password_once_and_ends_every_session(
    app: object, mailbox: Mailbox
) -> None:
    async with client_from(app) as signed_in:
        await sign_in(signed_in, "staff")
        copy = signed_in.cookies[COOKIE]
    async with client_from(app) as client:
        login = await client.get("/login")
        assert 'href="/password/forgot"' in login.text
        known = await ask_for_link(client, "Staff@Example.no ")
        unknown = await ask_for_link(client, "nobody@example.no")
        assert known.status_code == unknown.status_code == 200
        assert _answer(known.text) == _answer(unknown.text)
        assert len(mailbox.received) == 1
        assert mailbox.received[0]["To"] == "staff@example.no"
        link = _link(mailbox)
        opened_twice = await client.get(link)  # a link scanner opening it uses nothing up
        assert opened_twice.status_code == 200 and 'name="password"' in opened_twice.text
        done = await set_password(client, link, NEW_PASSWORD)
        assert done.status_code == 303 and done.headers["location"] == "/login"
        again = await client.get(link)
        assert "utløpt eller allerede brukt" in again.text  # nb: the page is in Norwegian
        assert await sign_in_with(client, "staff@example.no", PASSWORD) == 401
        assert await sign_in_with(client, "staff@example.no", NEW_PASSWORD) == 303
    async with client_from(app, "192.0.2.99") as copier:
        copier.cookies.set(COOKIE, copy)
        assert (await copier.get("/customers")).status_code == 303


async def test_a_tampered_or_made_up_link_is_refused_plainly(app: object) -> None:
    async with client_from(app) as client:
        page = await client.get("/password/set?token=1.abc.def")
        assert page.status_code == 200 and "utløpt eller allerede brukt" in page.text
        refused = await client.post(
            "/password/set",
            data={
                "csrf": csrf_of((await client.get("/login")).text),
                "token": "x" * 5000,
                "password": NEW_PASSWORD,
                "repeated": NEW_PASSWORD,
            },
        )
        assert refused.status_code == 422
        assert await sign_in_with(client, "staff@example.no", PASSWORD) == 303


async def test_asking_for_links_is_throttled(app: object, mailbox: Mailbox) -> None:
    async with client_from(app, "203.0.113.5") as client:
        codes = [(await ask_for_link(client, "staff@example.no")).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert len(mailbox.received) == 3


async def test_an_invitation_by_the_owner_lets_the_new_member_choose_a_password(
    app: object, mailbox: Mailbox
) -> None:
    async with client_from(app) as owner:
        await sign_in(owner, "owner")
        token = csrf_of((await owner.get("/staff")).text)
        invited = await owner.post(
            "/staff/invite",
            data={
                "csrf": token,
                "email": "Kari@Example.no",
                "name": "Kari",
                "role": "readonly",
                "locale": "da",
            },
        )
        assert invited.status_code == 303
        listing = await owner.get("/staff")
        assert 'data-staff="kari@example.no"' in listing.text
    assert mailbox.received[-1]["To"] == "kari@example.no"
    link = _link(mailbox)
    async with client_from(app, "192.0.2.5") as kari:
        assert (await set_password(kari, link, NEW_PASSWORD)).status_code == 303
        assert await sign_in_with(kari, "kari@example.no", NEW_PASSWORD) == 303
        assert (await kari.get("/staff")).status_code == 403  # not an owner


def _answer(html: str) -> str:
    match = re.search(r"<p role=\"status\" data-reset-sent>(.*?)</p>", html, re.S)
    assert match, html
    return match.group(1)
