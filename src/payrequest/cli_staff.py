"""`payrequest staff ...`: list, invite, deactivate, reactivate, reset-password and set-role,
the same users.commands the admin's Staff page calls (recorded in the audit log as done from
the command line). Links are emailed when an SMTP server is configured, and printed.

Each acts for one organisation, named by `--org SLUG`; it may be left out while there is only
one. Without it among several, or naming none there is: one line listing the short names, exit
code 2."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.cli_common import Org, chosen_organisation, cli_settings
from payrequest.db.scope import acting_for
from payrequest.errors import NotFound, PayrequestError
from payrequest.notify.email import EmailError
from payrequest.organisations.models import ROLES
from payrequest.runtime import Runtime, build_runtime
from payrequest.users import commands, mail, tokens
from payrequest.users import service as users
from payrequest.users.commands import COMMAND_LINE
from payrequest.users.members import Member
from payrequest.users.models import User

T = TypeVar("T")
staff_app = typer.Typer(
    help="Staff accounts: list, invite, deactivate, reset.", no_args_is_help=True
)
console = Console()


async def _organisation_id(runtime: Runtime, slug: str | None) -> int:
    """The organisation `--org` names (or the only one); exit code 2 with the short names
    there are when it names none or is needed and missing."""
    return (await chosen_organisation(runtime.sessions, slug)).id


def _run(
    work: Callable[[Runtime, AsyncSession], Awaitable[T]],
    *,
    org: str | None,
    then: Callable[[Runtime, T], Awaitable[None]] | None = None,
) -> T:
    """`work` in one transaction acting for the organisation `org` names; `then` (an email)
    after it committed. A refusal is one line on stderr and exit code 1."""
    runtime = build_runtime(cli_settings())

    async def run() -> T:
        try:
            organisation_id = await _organisation_id(runtime, org)
            with acting_for(organisation_id):
                async with runtime.sessions() as session, session.begin():
                    done = await work(runtime, session)
            if then is not None:
                await then(runtime, done)
            return done
        finally:
            await runtime.close()

    try:
        return asyncio.run(run())
    except PayrequestError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


async def _user_id(session: AsyncSession, email: str) -> int:
    user = await users.get_by_email(session, email)
    if user is None:
        raise NotFound("No staff member has the email %(email)s", email=email)
    return user.id


def _key(runtime: Runtime) -> str:
    return runtime.urls.signing_key or ""


async def _send(runtime: Runtime, found: tuple[User, str], purpose: str) -> None:
    user, token = found
    url = mail.link_url(runtime.urls.base, token)
    try:
        sent = await mail.send_password_link(
            runtime.email,
            user=user,
            url=url,
            purpose=purpose,
            idempotency_key=mail.idempotency_key(token),
        )
    except EmailError as exc:
        console.print(f"[yellow]The email could not be sent:[/] {exc}")
        sent = False
    lifetime = tokens.LIFETIMES[purpose]
    console.print(f"{'Emailed to ' + user.email if sent else 'Not emailed (no SMTP server)'}.")
    console.print(f"Link (works once, for {lifetime}): {url}")


@staff_app.command("list")
def staff_list(org: Org = None) -> None:
    """The organisation's staff: role, status, last sign-in."""

    async def work(runtime: Runtime, session: AsyncSession) -> list[Member]:
        return await users.list_users(session)

    table = Table("email", "name", "role", "status", "last sign-in")
    for user in _run(work, org=org):
        signed_in = user.user.last_login_at
        last = signed_in.isoformat(timespec="minutes") if signed_in else "never"
        table.add_row(
            user.email, user.name, user.role, "active" if user.is_active else "deactivated", last
        )
    console.print(table)


@staff_app.command("invite")
def staff_invite(
    email: Annotated[str, typer.Argument(help="Their sign-in email.")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")] = "staff",
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    locale: Annotated[str, typer.Option(help="Language: nb, da or en.")] = "nb",
    org: Org = None,
) -> None:
    """Add someone to the organisation: a new person gets an account and a link to choose a
    password; someone with an account already is only given the role."""

    async def work(runtime: Runtime, session: AsyncSession) -> tuple[User, str | None]:
        return await commands.invite(
            session,
            COMMAND_LINE,
            key=_key(runtime),
            email=email,
            name=name,
            role=role,
            locale=locale,
        )

    async def then(runtime: Runtime, found: tuple[User, str | None]) -> None:
        invited, token = found
        if token is None:
            console.print(f"{invited.email} has an account: added as {role}, no link needed")
            return
        console.print(f"Invited {role} {invited.email}")
        await _send(runtime, (invited, token), tokens.INVITE)

    _run(work, org=org, then=then)


@staff_app.command("reset-password")
def staff_reset_password(
    email: Annotated[str, typer.Argument(help="Their sign-in email.")],
    org: Org = None,
) -> None:
    """Send a link to set a new password (the current one works until then)."""

    async def work(runtime: Runtime, session: AsyncSession) -> tuple[User, str] | None:
        return await commands.reset_link(
            session, COMMAND_LINE, key=_key(runtime), user_id=await _user_id(session, email)
        )

    async def then(runtime: Runtime, found: tuple[User, str] | None) -> None:
        if found is not None:
            await _send(runtime, found, tokens.RESET)

    _run(work, org=org, then=then)


@staff_app.command("deactivate")
def staff_deactivate(
    email: Annotated[str, typer.Argument(help="Their sign-in email.")], org: Org = None
) -> None:
    """They can no longer work in the organisation; their sessions end at once."""

    async def work(runtime: Runtime, session: AsyncSession) -> Member:
        return await commands.deactivate(
            session, COMMAND_LINE, user_id=await _user_id(session, email)
        )

    console.print(f"Deactivated {_run(work, org=org).email}")


@staff_app.command("reactivate")
def staff_reactivate(
    email: Annotated[str, typer.Argument(help="Their sign-in email.")], org: Org = None
) -> None:
    """They can work in the organisation again."""

    async def work(runtime: Runtime, session: AsyncSession) -> Member:
        return await commands.reactivate(
            session, COMMAND_LINE, user_id=await _user_id(session, email)
        )

    console.print(f"Reactivated {_run(work, org=org).email}")


@staff_app.command("set-role")
def staff_set_role(
    email: Annotated[str, typer.Argument(help="Their sign-in email.")],
    role: Annotated[str, typer.Argument(help=f"One of: {', '.join(ROLES)}.")],
    org: Org = None,
) -> None:
    """Change a role (the last active owner stays owner)."""

    async def work(runtime: Runtime, session: AsyncSession) -> Member:
        return await commands.set_role(
            session, COMMAND_LINE, user_id=await _user_id(session, email), role=role
        )

    user = _run(work, org=org)
    console.print(f"{user.email} is now {user.role}")
