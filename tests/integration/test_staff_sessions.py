"""Staff sign-in sessions live on the server: a copied cookie stops working after logout, a
password change (other sessions) and a deactivation. Sign-in is throttled per email from one
address and per address, counted before the password is checked, so a stranger guessing
cannot lock the owner of an email out, and twelve guesses at once cannot all be checked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.audit.models import AuditEntry
from payrequest.db.scope import ALL, scoped_to
from payrequest.users import service as users
from tests.staff import PASSWORD, built_app, client_from, create_staff, csrf_of, sign_in

COOKIE = "payrequest_session"
NEW_PASSWORD = "a brand new password"


@pytest.fixture
async def app(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> AsyncIterator[object]:
    await create_staff(sessions, roles=("owner", "staff"))
    async with built_app(database_url, tmp_path, run_worker=False) as app:
        yield app


async def answers(app: object, cookie: str) -> str:
    """What /customers answers another browser holding a copy of this cookie: "page" or
    where it is sent."""
    async with client_from(app, "192.0.2.200") as copier:
        copier.cookies.set(COOKIE, cookie)
        response = await copier.get("/customers")
    if response.status_code == 200:
        return "page"
    assert response.status_code == 303
    return response.headers["location"].split("?")[0]


async def test_a_copied_cookie_stops_working_after_logout(app: object) -> None:
    async with client_from(app) as client:
        await sign_in(client, "staff")
        copy = client.cookies[COOKIE]
        assert await answers(app, copy) == "page"
        token = csrf_of((await client.get("/customers")).text)
        out = await client.post("/logout", data={"csrf": token})
        assert out.status_code == 303
        assert await answers(app, copy) == "/login"


async def test_a_password_change_ends_the_other_sessions_only(app: object) -> None:
    async with client_from(app) as client:
        await sign_in(client, "staff")
        elsewhere = client.cookies[COOKIE]
        client.cookies.clear()
        await sign_in(client, "staff")
        here = client.cookies[COOKIE]
        token = csrf_of((await client.get("/account/password")).text)
        changed = await client.post(
            "/account/password",
            data={
                "csrf": token,
                "current": PASSWORD,
                "password": NEW_PASSWORD,
                "repeated": NEW_PASSWORD,
            },
        )
        assert changed.status_code == 303, changed.text
        here = client.cookies.get(COOKIE) or here
        assert await answers(app, here) == "page"
        assert await answers(app, elsewhere) == "/login"


async def test_a_wrong_current_password_changes_nothing(app: object) -> None:
    async with client_from(app) as client:
        await sign_in(client, "staff")
        token = csrf_of((await client.get("/account/password")).text)
        refused = await client.post(
            "/account/password",
            data={
                "csrf": token,
                "current": "wrong",
                "password": NEW_PASSWORD,
                "repeated": NEW_PASSWORD,
            },
        )
        assert refused.status_code == 422
        assert "The current password is wrong" in refused.text
    async with client_from(app) as again:
        await sign_in(again, "staff")  # the old password still works


async def test_deactivation_ends_every_session_at_once(
    app: object, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        staff = await users.get_by_email(session, "staff@example.no")
        assert staff is not None
    async with client_from(app) as member, client_from(app) as owner:
        await sign_in(member, "staff")
        copy = member.cookies[COOKIE]
        await sign_in(owner, "owner")
        token = csrf_of((await owner.get("/staff")).text)
        done = await owner.post(f"/staff/{staff.id}/deactivate", data={"csrf": token})
        assert done.status_code == 303
        assert await answers(app, copy) == "/login"


async def test_guesses_from_elsewhere_do_not_lock_the_owner_out(app: object) -> None:
    async with client_from(app, "203.0.113.9") as attacker:
        token = csrf_of((await attacker.get("/login")).text)
        codes = [
            (
                await attacker.post(
                    "/login",
                    data={"email": "owner@example.no", "password": f"guess {n}", "csrf": token},
                )
            ).status_code
            for n in range(6)
        ]
        assert codes == [401] * 5 + [429]
    async with client_from(app, "198.51.100.7") as owner:
        await sign_in(owner, "owner")


async def test_twelve_simultaneous_guesses_check_at_most_five(
    app: object, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with client_from(app, "203.0.113.10") as attacker:
        token = csrf_of((await attacker.get("/login")).text)

        async def guess(n: int) -> int:
            response = await attacker.post(
                "/login", data={"email": "staff@example.no", "password": f"x{n}", "csrf": token}
            )
            return response.status_code

        codes = await asyncio.gather(*(guess(n) for n in range(12)))
    assert sorted(codes) == [401] * 5 + [429] * 7
    # a failed sign-in belongs to no organisation (who it was is not known): the installation's
    async with sessions(info=scoped_to(ALL)) as session:
        checked = await session.scalar(
            select(func.count()).where(AuditEntry.action == "sign_in.failed")
        )
    assert checked == 5


async def test_a_success_forgets_the_failures_of_that_email_and_address(app: object) -> None:
    async with client_from(app, "192.0.2.44") as client:
        token = csrf_of((await client.get("/login")).text)
        for _ in range(4):
            wrong = await client.post(
                "/login", data={"email": "staff@example.no", "password": "no", "csrf": token}
            )
            assert wrong.status_code == 401
        await sign_in(client, "staff")
        client.cookies.clear()
        token = csrf_of((await client.get("/login")).text)
        for _ in range(4):
            wrong = await client.post(
                "/login", data={"email": "staff@example.no", "password": "no", "csrf": token}
            )
            assert wrong.status_code == 401  # counted afresh: not locked after 8 in all
