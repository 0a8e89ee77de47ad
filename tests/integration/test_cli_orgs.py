"""The command line on an installation of several organisations: `payrequest orgs` creates and
lists them, `users create --org` gives a person a role in each, and every command on business
data acts for the organisation `--org` names (needed once there are several; an unknown or
missing one is one line naming the short names there are, exit code 2)."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result

from payrequest import cli
from payrequest.db.scope import ALL, nobody, scoped_to
from payrequest.db.session import create_engine, session_factory
from payrequest.payment_requests.models import PaymentRequest
from payrequest.users import service as users
from tests import servers
from tests.factories import make_customer, make_invoice
from tests.staff import PASSWORD


def _cli(tmp_path: Path, *args: str, **extra: str) -> Result:
    """`payrequest ARGS` in this process (typer's runner) on a private SQLite file, acting for
    nobody as a command starts: the command itself says whom it acts for."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PAYREQUEST_")}
    env.update(servers.payrequest_env(tmp_path, **extra))
    with nobody():
        return CliRunner().invoke(cli.app, list(args), env=env)


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'payrequest.db'}"


def _rows(result: Result) -> dict[str, str]:
    """A printed table's rows by their first cell."""
    rows = {}
    for line in result.stdout.splitlines():
        cells = [cell.strip() for cell in line.strip("│┃ ").split("│")]
        if len(cells) > 1 and cells[0]:
            rows[cells[0]] = line
    return rows


def _two_organisations(tmp_path: Path) -> None:
    assert _cli(tmp_path, "migrate").exit_code == 0
    fjord = _cli(tmp_path, "orgs", "create", "--name", "Fjord Rør AS", "--slug", "fjord")
    assert fjord.exit_code == 0, fjord.output
    assert "Created organisation fjord (id 2)" in fjord.stdout
    hansen = _cli(
        tmp_path,
        "orgs",
        "create",
        "--name",
        "Bager Hansen ApS",
        "--slug",
        "hansen",
        "--market",
        "DK",
    )
    assert hansen.exit_code == 0, hansen.output
    assert "Created organisation hansen (id 3)" in hansen.stdout


def _refused_for_want_of_org(result: Result) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        "error: Several organisations exist; say which: main, fjord, hansen (--org SLUG)"
    ]


def test_organisations_and_a_person_in_two_of_them(tmp_path: Path) -> None:
    _two_organisations(tmp_path)
    taken = _cli(tmp_path, "orgs", "create", "--name", "Another", "--slug", "fjord")
    assert taken.exit_code == 1 and "The short name fjord is taken" in taken.stderr
    bad = _cli(tmp_path, "orgs", "create", "--name", "Bad", "--slug", "Not OK")
    assert bad.exit_code == 1 and "Short name may have" in bad.stderr

    owner = _cli(
        tmp_path,
        "users",
        "create",
        "--email",
        "kari@example.no",
        "--role",
        "owner",
        "--org",
        "fjord",
        "--password",
        PASSWORD,
    )
    assert owner.exit_code == 0, owner.output
    assert "Created owner kari@example.no in fjord" in owner.stdout
    # An account already: only the role in the second organisation; no password is asked
    # for, and one given is not used.
    joined = _cli(
        tmp_path,
        "users",
        "create",
        "--email",
        "Kari@Example.no",
        "--role",
        "readonly",
        "--org",
        "hansen",
        "--password",
        "something else entirely",
    )
    assert joined.exit_code == 0, joined.output
    assert "Added kari@example.no to hansen as readonly" in joined.stdout
    twice = _cli(tmp_path, "users", "create", "--email", "kari@example.no", "--org", "hansen")
    assert twice.exit_code == 1
    assert "kari@example.no is already a member of hansen" in twice.stderr
    _refused_for_want_of_org(
        _cli(tmp_path, "users", "create", "--email", "ola@example.no", "--password", PASSWORD)
    )
    unknown = _cli(tmp_path, "staff", "list", "--org", "nope")
    assert unknown.exit_code == 2
    assert unknown.stderr.splitlines() == [
        "error: No organisation has the short name nope; there are: main, fjord, hansen"
        " (--org SLUG)"
    ]
    assert "Traceback" not in unknown.output

    async def password_of_kari() -> tuple[bool, bool]:
        engine = create_engine(_url(tmp_path))
        try:
            async with session_factory(engine, scope=ALL)() as session, session.begin():
                first = await users.authenticate(
                    session, email="kari@example.no", password=PASSWORD
                )
                other = await users.authenticate(
                    session, email="kari@example.no", password="something else entirely"
                )
                return first is not None, other is not None
        finally:
            await engine.dispose()

    assert asyncio.run(password_of_kari()) == (True, False)

    listed = _cli(tmp_path, "orgs", "list", COLUMNS="200")
    assert listed.exit_code == 0, listed.output
    rows = _rows(listed)
    assert {"main", "fjord", "hansen"} <= set(rows)
    assert rows["fjord"].split("│")[1:] and "Fjord Rør AS" in rows["fjord"]
    hansen = [cell.strip() for cell in rows["hansen"].strip("│ ").split("│")]
    assert hansen == ["hansen", "Bager Hansen ApS", "DK", "DKK", "active", "1", "0"]
    fjord = [cell.strip() for cell in rows["fjord"].strip("│ ").split("│")]
    assert fjord[2:] == ["NO", "NOK", "active", "1", "0"]


def test_staff_commands_act_for_the_organisation_named(tmp_path: Path) -> None:
    _two_organisations(tmp_path)
    for org, email in (("fjord", "kari@example.no"), ("hansen", "mette@example.dk")):
        created = _cli(
            tmp_path,
            "users",
            "create",
            "--email",
            email,
            "--role",
            "owner",
            "--org",
            org,
            "--password",
            PASSWORD,
        )
        assert created.exit_code == 0, created.output
    _refused_for_want_of_org(_cli(tmp_path, "staff", "list"))
    invited = _cli(tmp_path, "staff", "invite", "ola@example.no", "--org", "fjord")
    assert invited.exit_code == 0, invited.output

    fjord = _cli(tmp_path, "staff", "list", "--org", "fjord", COLUMNS="200")
    assert fjord.exit_code == 0, fjord.output
    assert set(_rows(fjord)) - {"email"} == {"kari@example.no", "ola@example.no"}
    hansen = _cli(tmp_path, "staff", "list", "--org", "hansen", COLUMNS="200")
    assert set(_rows(hansen)) - {"email"} == {"mette@example.dk"}

    # A member of another organisation is no one here.
    elsewhere = _cli(tmp_path, "staff", "deactivate", "mette@example.dk", "--org", "fjord")
    assert elsewhere.exit_code == 1 and "No such staff member" in elsewhere.stderr
    demoted = _cli(tmp_path, "staff", "set-role", "ola@example.no", "readonly", "--org", "fjord")
    assert demoted.exit_code == 0 and "ola@example.no is now readonly" in demoted.stdout
    # The last owner of hansen stays; fjord's owner is no help there.
    last = _cli(tmp_path, "staff", "deactivate", "mette@example.dk", "--org", "hansen")
    assert last.exit_code == 1 and "last active owner" in last.stderr


async def _seed(url: str) -> None:
    """Two customers with an open invoice in main (1), one in fjord (2), all in NOK and
    without phone numbers (QR requests)."""
    engine = create_engine(url)
    try:
        for organisation_id, names in ((1, ("Main A", "Main B")), (2, ("Fjord C",))):
            async with (
                session_factory(engine, scope=organisation_id)() as session,
                session.begin(),
            ):
                for name in names:
                    customer = await make_customer(session, name=name, phone="")
                    await make_invoice(session, customer, amount=25_000)
    finally:
        await engine.dispose()


async def _requests_by_organisation(url: str) -> dict[int, int]:
    engine = create_engine(url)
    try:
        async with session_factory(engine, scope=ALL)() as session:
            rows = await session.execute(
                select(PaymentRequest.organisation_id, func.count()).group_by(
                    PaymentRequest.organisation_id
                )
            )
            return {org: int(number) for org, number in rows}
    finally:
        await engine.dispose()


def test_send_bulk_for_one_organisation_touches_only_its_invoices(tmp_path: Path) -> None:
    """Sent for `main` (the first organisation, whose provider is the installation's own,
    played by the served emulator): fjord's open invoice is neither planned nor sent."""
    _two_organisations(tmp_path)
    url = _url(tmp_path)
    asyncio.run(_seed(url))
    port = servers.free_port()
    public = {
        "PAYREQUEST_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PAYREQUEST_VIPPS__LONG_LIVING_APPROVED": "true",
        "COLUMNS": "200",
    }
    base = ["requests", "send-bulk", "--batch", "orgs1", "--currency", "NOK"]
    _refused_for_want_of_org(_cli(tmp_path, *base, "--dry-run", **public))
    dry = _cli(tmp_path, *base, "--dry-run", "--org", "main", **public)
    assert dry.exit_code == 0, dry.output
    assert "2 to send" in dry.stdout
    assert "Main A" in dry.stdout and "Fjord C" not in dry.stdout

    server = servers.start(tmp_path, "serve", "--port", str(port), **public)
    try:
        servers.wait_healthy(port, server)
        sent = _cli(tmp_path, *base, "--org", "main", **public)
    finally:
        servers.stop(server)
    assert sent.exit_code == 0, sent.output
    assert "2 sent" in sent.stdout
    assert asyncio.run(_requests_by_organisation(url)) == {1: 2}
    fjord = _cli(tmp_path, *base, "--dry-run", "--org", "fjord", **public)
    assert fjord.exit_code == 0, fjord.output
    assert "1 to send" in fjord.stdout and "Fjord C" in fjord.stdout


async def test_the_commands_keep_to_their_organisation_on_each_database(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """The same on the shared test databases, PostgreSQL's row-level security included:
    staff, the bulk plan and the overview each see what they should."""

    def run(*args: str) -> Result:
        return _cli(tmp_path, *args, PAYREQUEST_DATABASE_URL=database_url, COLUMNS="200")

    ids = {}
    for slug in ("fjord", "hansen"):
        created = await asyncio.to_thread(
            run, "orgs", "create", "--name", slug.title(), "--slug", slug
        )
        assert created.exit_code == 0, created.output
        ids[slug] = int(re.findall(r"id (\d+)", created.stdout)[0])
        member = await asyncio.to_thread(
            run,
            "users",
            "create",
            "--email",
            f"owner@{slug}.no",
            "--role",
            "owner",
            "--org",
            slug,
            "--password",
            PASSWORD,
        )
        assert member.exit_code == 0, member.output
    for slug, names in (("fjord", ("Fjord A", "Fjord B")), ("hansen", ("Hansen C",))):
        async with sessions(info=scoped_to(ids[slug])) as session, session.begin():
            for name in names:
                customer = await make_customer(session, name=name, phone="")
                await make_invoice(session, customer, amount=25_000)

    staff = await asyncio.to_thread(run, "staff", "list", "--org", "hansen")
    assert staff.exit_code == 0, staff.output
    assert set(_rows(staff)) - {"email"} == {"owner@hansen.no"}
    plan = await asyncio.to_thread(
        run, "requests", "send-bulk", "--dry-run", "--currency", "NOK", "--org", "fjord"
    )
    assert plan.exit_code == 0, plan.output
    assert "2 to send" in plan.stdout and "Hansen C" not in plan.stdout
    listed = await asyncio.to_thread(run, "orgs", "list")
    rows = _rows(listed)
    for slug, members, customers in (("fjord", "1", "2"), ("hansen", "1", "1")):
        cells = [cell.strip() for cell in rows[slug].strip("│ ").split("│")]
        assert cells[-2:] == [members, customers], rows[slug]
    missing = await asyncio.to_thread(run, "staff", "list")
    assert missing.exit_code == 2 and "say which: main, fjord, hansen" in missing.stderr
