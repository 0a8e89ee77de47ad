"""A business signs itself up: the form in the visitor's language, an unverified owner who
cannot sign in before the emailed link (a real SMTP server) proves the address, the link
signing them in to their new organisation; the same answer for an address that has an
account (whose owner is told instead); bad input refused with nothing written; the form
switched off; the demo's outbox."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.audit.models import AuditEntry
from payrequest.config import secret_key
from payrequest.db.scope import ALL, scoped_to
from payrequest.organisations import service as organisations
from payrequest.organisations.models import Membership, Organisation
from payrequest.users import service as users
from payrequest.web import outbox as web_outbox
from payrequest.web import signup as web_signup
from payrequest.web.admin import operator as web_operator
from payrequest.web.emulator_access import emulator_key
from tests.mailbox import Mailbox
from tests.staff import PASSWORD, built_app, client_from, create_staff, csrf_of

NEW_PASSWORD = "a long enough password"
SMTP_SENDER = "payrequest <noreply@example.no>"


def with_routes(app: FastAPI) -> FastAPI:
    """The sign-up, operator and outbox pages, if the app does not include them yet."""
    paths = {getattr(route, "path", None) for route in app.router.routes}
    for path, router in (
        ("/signup", web_signup.router),
        ("/operator", web_operator.router),
        ("/sandbox/outbox", web_outbox.router),
    ):
        if path not in paths:
            app.include_router(router)
    return app


def smtp_of(mailbox_server: tuple[Mailbox, int]) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": mailbox_server[1],
        "starttls": False,
        "sender": SMTP_SENDER,
    }


@pytest.fixture
async def app(
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    mailbox_server: tuple[Mailbox, int],
) -> AsyncIterator[FastAPI]:
    await create_staff(sessions, roles=("owner",))
    async with built_app(
        database_url, tmp_path, run_worker=False, smtp=smtp_of(mailbox_server)
    ) as built:
        yield with_routes(built)


def form(**overrides: str) -> dict[str, str]:
    values = {
        "business_name": "Fjord Rør AS",
        "market": "NO",
        "name": "Ola Nordmann",
        "email": "ola@fjord.example",
        "password": NEW_PASSWORD,
    }
    values.update(overrides)
    return values


async def sign_up(client: httpx.AsyncClient, lang: str = "en", **overrides: str) -> httpx.Response:
    page = await client.get(f"/signup?lang={lang}")
    assert page.status_code == 200, page.text
    return await client.post("/signup", data={**form(**overrides), "csrf": csrf_of(page.text)})


async def sign_in_with(client: httpx.AsyncClient, email: str, password: str) -> int:
    token = csrf_of((await client.get("/login")).text)
    response = await client.post(
        "/login", data={"email": email, "password": password, "csrf": token}
    )
    return response.status_code


def verify_link(text: str) -> str:
    match = re.search(r"http://testserver(/signup/verify\?token=\S+)", text)
    assert match, text
    return match.group(1)


async def organisation_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions(info=scoped_to(ALL)) as session:
        return await organisations.count(session)


async def test_a_business_signs_up_confirms_its_email_and_starts_working(
    app: FastAPI, sessions: async_sessionmaker[AsyncSession], mailbox: Mailbox
) -> None:
    async with client_from(app) as client:
        answer = await sign_up(client, "en")
        assert answer.status_code == 303 and answer.headers["location"] == "/signup/sent"
        sent = await client.get("/signup/sent")
        assert sent.status_code == 200 and "ola@fjord.example" in sent.text
        assert "Check your email" in sent.text
        assert "/sandbox/outbox" not in sent.text  # SMTP is configured: no outbox
        assert len(mailbox.received) == 1
        email = mailbox.received[0]
        assert email["To"] == "ola@fjord.example"
        assert "Confirm your email address" in str(email["Subject"])
        link = verify_link(mailbox.last_text())
        assert "Fjord Rør AS" in mailbox.last_text()

        async with sessions(info=scoped_to(ALL)) as session:
            created = await organisations.by_slug(session, "fjord-ror-as")
            assert created is not None and created.market == "NO" and created.status == "active"
            assert created.default_locale == "nb"
            owner = await users.get_by_email(session, "ola@fjord.example")
            assert owner is not None and owner.email_verified_at is None
            assert owner.locale == "en" and owner.name == "Ola Nordmann" and not owner.is_operator
            membership = await organisations.membership(
                session, user_id=owner.id, organisation_id=created.id
            )
            assert membership is not None and membership.role == "owner"
            actions = set(await session.scalars(select(AuditEntry.action)))
            assert "sign_up" in actions

        # before the link: the right password does not sign in
        assert await sign_in_with(client, "ola@fjord.example", NEW_PASSWORD) == 401

        opened = await client.get(link)
        assert opened.status_code == 303 and opened.headers["location"] == "/customers"
        customers = await client.get("/customers")
        assert customers.status_code == 200
        assert "Welcome to payrequest!" in customers.text
        assert "Ola Nordmann" in customers.text

    async with sessions(info=scoped_to(ALL)) as session:
        owner = await users.get_by_email(session, "ola@fjord.example")
        assert owner is not None and owner.email_verified_at is not None

    async with client_from(app, "192.0.2.7") as other:
        again = await other.get(link)  # the link works once
        assert again.status_code == 303 and again.headers["location"] == "/login"
        assert (await other.get("/customers")).status_code == 303  # not signed in by it
        assert await sign_in_with(other, "ola@fjord.example", NEW_PASSWORD) == 303
        made_up = await other.get("/signup/verify?token=1.abc.def")
        # in the visitor's language: the installation's default, Norwegian
        assert made_up.status_code == 400 and "utløpt eller allerede brukt" in made_up.text


async def test_an_address_with_an_account_gets_the_same_answer_and_a_warning(
    app: FastAPI, sessions: async_sessionmaker[AsyncSession], mailbox: Mailbox
) -> None:
    async with client_from(app) as client:
        fresh = await sign_up(client, "en", email="new@fjord.example")
        fresh_page = (await client.get("/signup/sent")).text
    async with client_from(app, "192.0.2.8") as client:
        taken = await sign_up(client, "en", email=" Owner@Example.no ", business_name="Copycat AS")
        taken_page = (await client.get("/signup/sent")).text
    assert fresh.status_code == taken.status_code == 303
    assert fresh.headers["location"] == taken.headers["location"]
    assert _answer(fresh_page).replace("new@fjord.example", "X") == _answer(taken_page).replace(
        "Owner@Example.no", "X"
    )
    assert [m["To"] for m in mailbox.received] == ["new@fjord.example", "owner@example.no"]
    warning = mailbox.received[1]
    assert "tried to sign up" in str(warning["Subject"])
    body = mailbox.last_text()
    assert "/signup/verify" not in body and "http://testserver/login" in body
    assert await organisation_count(sessions) == 2  # the first and Fjord Rør; no Copycat
    async with sessions(info=scoped_to(ALL)) as session:
        assert await organisations.by_slug(session, "copycat-as") is None
        owner = await users.get_by_email(session, "owner@example.no")
        assert owner is not None
        assert len(await organisations.memberships_of(session, owner.id)) == 1
    async with client_from(app, "192.0.2.9") as client:
        assert await sign_in_with(client, "owner@example.no", PASSWORD) == 303


def _answer(html: str) -> str:
    """The page's main part (no CSRF token or other per-visit values)."""
    match = re.search(r"<main.*</main>", html, re.S)
    assert match
    return match.group(0)


async def test_signing_up_again_before_confirming_sends_a_new_link(
    app: FastAPI, sessions: async_sessionmaker[AsyncSession], mailbox: Mailbox
) -> None:
    async with client_from(app) as client:
        await sign_up(client, "en")
        await sign_up(client, "en", business_name="Another name AS")
    assert [m["To"] for m in mailbox.received] == ["ola@fjord.example"] * 2
    first, second = (verify_link(_text(m)) for m in mailbox.received)
    assert "Fjord Rør AS" in mailbox.last_text()  # the link is for the organisation made first
    assert await organisation_count(sessions) == 2
    async with client_from(app) as client:
        assert (await client.get(second)).headers["location"] == "/customers"
        assert (await client.get(first)).headers["location"] == "/login"  # verified already


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


async def test_bad_input_is_refused_in_the_visitors_language_and_nothing_is_made(
    app: FastAPI, sessions: async_sessionmaker[AsyncSession], mailbox: Mailbox
) -> None:
    async with client_from(app) as client:
        refused = await sign_up(
            client,
            "nb",
            business_name=" ",
            market="SE",
            name="",
            email="not-an-address",
            password="short",
        )
        assert refused.status_code == 422
        for field in ("business_name", "market", "name", "email", "password"):
            assert f'data-field-error="{field}"' in refused.text, field
        assert "er ikke en e-postadresse" in refused.text  # Norwegian, as chosen
        assert 'lang="nb"' in refused.text
        assert 'value="not-an-address"' in refused.text
        assert NEW_PASSWORD not in refused.text and 'value="short"' not in refused.text
        odd = await sign_up(
            client, "en", business_name="x" * 5000, email="a@b.example\x00", password="p" * 5000
        )
        assert odd.status_code == 422
        no_csrf = await client.post("/signup", data=form())
        assert no_csrf.status_code == 403
    assert mailbox.received == []
    assert await organisation_count(sessions) == 1


async def test_the_same_business_name_gets_a_short_name_of_its_own(
    app: FastAPI, sessions: async_sessionmaker[AsyncSession], mailbox: Mailbox
) -> None:
    async with client_from(app) as client:
        await sign_up(client, "da", email="a@fjord.example", market="DK")
        await sign_up(client, "da", email="b@fjord.example", market="DK")
    async with sessions(info=scoped_to(ALL)) as session:
        found = {
            o.slug: o
            for o in await session.scalars(select(Organisation).where(Organisation.id != 1))
        }
        assert set(found) == {"fjord-ror-as", "fjord-ror-as-2"}
        assert {o.market for o in found.values()} == {"DK"}
        assert {o.default_locale for o in found.values()} == {"da"}
        owners = await session.scalar(
            select(func.count()).select_from(Membership).where(Membership.role == "owner")
        )
        assert owners == 3


async def test_sign_ups_from_one_address_are_limited(
    app: FastAPI, sessions: async_sessionmaker[AsyncSession], mailbox: Mailbox
) -> None:
    async with client_from(app, "192.0.2.50") as client:
        answers = [
            (await sign_up(client, "en", email=f"n{i}@fjord.example")).status_code for i in range(6)
        ]
    assert answers == [303] * 5 + [429]
    assert len(mailbox.received) == 5
    assert await organisation_count(sessions) == 6


async def test_sign_up_switched_off_answers_404_and_the_sign_in_page_offers_none(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with (
        built_app(database_url, tmp_path, run_worker=False, signup=False) as built,
        client_from(with_routes(built)) as client,
    ):
        assert (await client.get("/signup")).status_code == 404
        token = csrf_of((await client.get("/login")).text)
        posted = await client.post("/signup", data={**form(), "csrf": token})
        assert posted.status_code == 404
        assert 'href="/signup"' not in (await client.get("/login")).text
    assert await organisation_count(sessions) == 1
    async with (
        built_app(database_url, tmp_path, run_worker=False) as built,
        client_from(with_routes(built)) as client,
    ):
        assert 'href="/signup"' in (await client.get("/login")).text


async def test_the_demo_keeps_its_email_in_the_outbox(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """Sandbox mode without SMTP: the verification email goes to the outbox, which only the
    emulator key (or a staff sign-in) opens."""
    async with built_app(database_url, tmp_path, run_worker=False) as built:
        app = with_routes(built)
        key = emulator_key(secret_key(app.state.settings))
        async with client_from(app) as client:
            assert (await sign_up(client, "en")).status_code == 303
            sent = await client.get("/signup/sent")
            assert 'href="/sandbox/outbox"' in sent.text
            refused = await client.get("/sandbox/outbox", headers={"accept": "text/html"})
            assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
            assert (await client.get("/sandbox/outbox")).status_code == 403
            assert (await client.get(f"/sandbox/outbox?key={'0' * 32}")).status_code == 403
            kept = await client.get(f"/sandbox/outbox?key={key}")
            assert kept.status_code == 303 and kept.headers["location"] == "/sandbox/outbox"
            page = await client.get("/sandbox/outbox")
            assert page.status_code == 200 and "ola@fjord.example" in page.text
            link = re.search(r'href="http://testserver(/signup/verify\?token=[^"]+)"', page.text)
            assert link, page.text
            assert (await client.get(link.group(1).replace("&amp;", "&"))).headers[
                "location"
            ] == "/customers"
    async with (
        built_app(
            database_url, tmp_path, run_worker=False, smtp={"host": "127.0.0.1", "port": 1}
        ) as built,
        client_from(with_routes(built)) as client,
    ):
        assert (await client.get("/sandbox/outbox")).status_code == 404
