"""Staff management for owners (the Staff page and `payrequest staff`), and the audit log
page: who did what, newest first, by person and action, in the reader's language."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result

from payrequest import cli
from payrequest.audit.models import AuditEntry
from payrequest.db.scope import ALL, nobody, scoped_to
from payrequest.errors import Conflict
from payrequest.organisations import service as organisations
from payrequest.organisations.models import Membership
from payrequest.organisations.service import NewOrganisation
from payrequest.users import commands
from payrequest.users import service as users
from payrequest.users.members import Member
from payrequest.users.models import User
from tests import servers
from tests.staff import PASSWORD, app_client, create_staff, csrf_of, sign_in


@pytest.fixture
async def owner(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    await create_staff(sessions)
    async with app_client(database_url, tmp_path, run_worker=False) as http:
        await sign_in(http, "owner")
        yield http


async def _user(sessions: async_sessionmaker[AsyncSession], role: str) -> Member:
    """`<role>@example.no` as a member of the test organisation (their role there)."""
    async with sessions() as session:
        found = [m for m in await users.list_users(session) if m.email == f"{role}@example.no"]
    assert len(found) == 1
    return found[0]


async def _post(client: httpx.AsyncClient, path: str, **data: str) -> str:
    """Post from the Staff page; the flash message the page then shows."""
    token = csrf_of((await client.get("/staff")).text)
    response = await client.post(path, data={"csrf": token, **data})
    assert response.status_code == 303, response.text
    return (await client.get("/staff")).text


async def test_the_staff_page_lists_role_status_and_last_sign_in(
    owner: httpx.AsyncClient,
) -> None:
    page = await owner.get("/staff")
    assert page.status_code == 200
    for role in ("owner", "staff", "readonly"):
        assert f'data-staff="{role}@example.no"' in page.text
    assert "Never" in page.text  # staff and readonly have not signed in


async def test_only_owners_see_staff_and_audit(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await create_staff(sessions, roles=("staff",))
    async with app_client(database_url, tmp_path, run_worker=False) as member:
        await sign_in(member, "staff")
        assert (await member.get("/staff")).status_code == 403
        assert (await member.get("/audit")).status_code == 403
        assert 'href="/staff"' not in (await member.get("/customers")).text


async def test_the_last_active_owner_cannot_be_demoted_or_deactivated(
    owner: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    me = await _user(sessions, "owner")
    page = await _post(owner, f"/staff/{me.id}/role", role="staff")
    assert "is the last active owner" in page
    page = await _post(owner, f"/staff/{me.id}/deactivate")
    assert "is the last active owner" in page
    assert (await _user(sessions, "owner")).role == "owner"
    assert (await _user(sessions, "owner")).is_active


async def test_roles_change_and_accounts_come_and_go_recorded_in_the_audit_log(
    owner: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    member = await _user(sessions, "staff")
    await _post(owner, f"/staff/{member.id}/role", role="owner")
    assert (await _user(sessions, "staff")).role == "owner"
    me = await _user(sessions, "owner")
    await _post(owner, f"/staff/{me.id}/role", role="readonly")  # another owner exists now
    assert (await _user(sessions, "owner")).role == "readonly"
    assert (await owner.get("/staff")).status_code == 403  # no longer an owner


async def test_deactivate_and_reactivate(
    owner: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    member = await _user(sessions, "staff")
    page = await _post(owner, f"/staff/{member.id}/deactivate")
    assert 'data-staff="staff@example.no" data-active="no"' in page
    page = await _post(owner, f"/staff/{member.id}/reactivate")
    assert 'data-staff="staff@example.no" data-active="yes"' in page
    bad = await _post(owner, "/staff/999999/deactivate")
    assert "No such staff member" in bad
    async with sessions() as session:
        actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["sign_in.succeeded", "staff.deactivate", "staff.reactivate"]


async def test_the_audit_log_page_filters_by_person_and_action_and_pages(
    owner: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    token = csrf_of((await owner.get("/login")).text)
    for _ in range(3):  # the sign-ins of no one: the installation's, in no organisation's log
        await owner.post(
            "/login", data={"email": "ghost@example.no", "password": "x", "csrf": token}
        )
    member = await _user(sessions, "staff")
    async with sessions() as session, session.begin():  # the command line: no person acts
        for role in ("readonly", "staff", "readonly"):
            await commands.set_role(session, commands.COMMAND_LINE, user_id=member.id, role=role)
    await _post(owner, f"/staff/{member.id}/deactivate")
    page = await owner.get("/audit")
    assert page.status_code == 200
    rows = page.text.split('data-audit-action="')[1:]
    assert [row.split('"', 1)[0] for row in rows][:2] == ["staff.deactivate", "staff.set_role"]
    assert "ghost@example.no" not in page.text
    assert 'data-audit-action="sign_in.failed"' not in page.text
    async with sessions(info=scoped_to(ALL)) as session:
        ghosts = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "sign_in.failed")
        )
        found = [(e.organisation_id, e.details["email"]) for e in ghosts]
        # organisation_id is typed int; AuditEntry is `organisation_optional` (NULL here)
        assert found == [(None, "ghost@example.no")] * 3  # type: ignore[comparison-overlap]
    changed = await owner.get("/audit", params={"action": "staff.set_role"})
    assert changed.text.count('data-audit-action="staff.set_role"') == 3
    assert 'data-audit-action="staff.deactivate"' not in changed.text
    me = await _user(sessions, "owner")
    mine = await owner.get("/audit", params={"person": str(me.id)})
    assert 'data-audit-action="staff.set_role"' not in mine.text
    assert 'data-audit-action="staff.deactivate"' in mine.text
    far = await owner.get("/audit", params={"page": str(2**31 - 1), "action": "no.such"})
    assert far.status_code == 200 and "Nothing recorded yet." in far.text
    huge = await owner.get("/audit", params={"page": str(2**63), "person": str(2**40)})
    assert huge.status_code == 422  # the input guard: beyond any id or page


async def test_the_audit_log_is_in_the_readers_language(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await create_staff(sessions, roles=("owner",), locale="nb")
    async with app_client(database_url, tmp_path, run_worker=False) as http:
        await sign_in(http, "owner")
        page = await http.get("/audit")
    assert '<html lang="nb">' in page.text


def _cli(tmp_path: Path, *args: str) -> Result:
    """`payrequest ARGS` in this process (typer's runner), on a private SQLite file, acting
    for nobody as a command starts (the command says whom it acts for)."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PAYREQUEST_")}
    env.update(servers.payrequest_env(tmp_path))
    with nobody():
        return CliRunner().invoke(cli.app, list(args), env=env)


def test_the_staff_command(tmp_path: Path) -> None:
    assert _cli(tmp_path, "migrate").exit_code == 0
    created = _cli(
        tmp_path,
        "users",
        "create",
        "--email",
        "boss@example.no",
        "--role",
        "owner",
        "--password",
        PASSWORD,
    )
    assert created.exit_code == 0, created.output
    invited = _cli(tmp_path, "staff", "invite", "Kari@Example.no", "--role", "readonly")
    assert invited.exit_code == 0, invited.output
    assert "Not emailed (no SMTP server)" in invited.stdout
    assert "/password/set?token=" in invited.stdout
    assert _cli(tmp_path, "staff", "set-role", "kari@example.no", "staff").exit_code == 0
    reset = _cli(tmp_path, "staff", "reset-password", "kari@example.no")
    assert reset.exit_code == 0 and "/password/set?token=" in reset.stdout
    assert _cli(tmp_path, "staff", "deactivate", "kari@example.no").exit_code == 0
    last = _cli(tmp_path, "staff", "deactivate", "boss@example.no")
    assert last.exit_code == 1
    assert "last active owner" in last.output
    unknown = _cli(tmp_path, "staff", "deactivate", "nobody@example.no")
    assert unknown.exit_code == 1 and "No staff member has the email" in unknown.output
    listed = _cli(tmp_path, "staff", "list")
    assert listed.exit_code == 0
    lines = {line.split()[1]: line for line in listed.stdout.splitlines() if "@" in line}
    assert "deactivated" in lines["kari@example.no"] and "staff" in lines["kari@example.no"]
    assert "active" in lines["boss@example.no"] and "owner" in lines["boss@example.no"]


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        first = await users.create_user(
            session, email="a@example.no", password=PASSWORD, role="owner"
        )
        second = await users.create_user(
            session, email="b@example.no", password=PASSWORD, role="owner"
        )

    async def demote(actor: User, target: User) -> str:
        try:
            async with sessions() as session, session.begin():
                await commands.set_role(
                    session, commands.Actor(actor.id), user_id=target.id, role="staff"
                )
        except Conflict as exc:
            return exc.code
        return "done"

    for _ in range(3):
        outcomes = await asyncio.gather(demote(first, second), demote(second, first))
        assert sorted(outcomes) == ["done", "last_owner"]
        async with sessions() as session:
            owners = await session.scalars(
                select(Membership.user_id).where(
                    Membership.role == "owner", Membership.is_active.is_(True)
                )
            )
            assert len(list(owners)) == 1
        async with sessions() as session, session.begin():  # both owners again
            for user in (first, second):
                await commands.set_role(
                    session, commands.COMMAND_LINE, user_id=user.id, role="owner"
                )


# --- the Staff page of one organisation among several ----------------------------------


async def _other_organisation(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """A second organisation and its owner `bea@example.no`, a member of it only."""
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        other = await organisations.create(
            session, NewOrganisation(name="Bergen Bad AS", slug="bergen-bad")
        )
        bea = await users.create_user(
            session,
            email="bea@example.no",
            password=PASSWORD,
            role="owner",
            organisation_id=other.id,
        )
        return other.id, bea.id


async def _memberships(
    sessions: async_sessionmaker[AsyncSession], user_id: int
) -> list[tuple[int, str, bool]]:
    async with sessions(info=scoped_to(ALL)) as session:
        found = await session.scalars(
            select(Membership).where(Membership.user_id == user_id).order_by(Membership.id)
        )
        return [(m.organisation_id, m.role, m.is_active) for m in found]


async def test_an_owner_cannot_touch_a_member_of_another_organisation(
    owner: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    other, bea = await _other_organisation(sessions)
    page = (await owner.get("/staff")).text
    assert 'data-staff="bea@example.no"' not in page
    for path, data in (
        (f"/staff/{bea}/deactivate", {}),
        (f"/staff/{bea}/reactivate", {}),
        (f"/staff/{bea}/role", {"role": "readonly"}),
        (f"/staff/{bea}/reset", {}),
    ):
        shown = await _post(owner, path, **data)
        assert "No such staff member" in shown, path
        assert 'data-staff="bea@example.no"' not in shown
    assert await _memberships(sessions, bea) == [(other, "owner", True)]
    async with sessions(info=scoped_to(ALL)) as session:
        about_bea = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.subject_id == bea)
        )
        assert list(about_bea) == []


async def test_inviting_someone_with_an_account_adds_them_to_this_organisation(
    owner: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    other, bea = await _other_organisation(sessions)
    page = await _post(owner, "/staff/invite", email="Bea@Example.no", role="readonly")
    assert "bea@example.no can now sign in to this organisation too." in page
    assert 'data-staff="bea@example.no" data-active="yes"' in page
    assert await _memberships(sessions, bea) == [(other, "owner", True), (1, "readonly", True)]
    again = await _post(owner, "/staff/invite", email="bea@example.no", role="owner")
    assert "already exists" in again
    # deactivating her here leaves her an owner in her own organisation
    await _post(owner, f"/staff/{bea}/deactivate")
    assert await _memberships(sessions, bea) == [(other, "owner", True), (1, "readonly", False)]
