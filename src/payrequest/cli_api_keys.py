"""`payrequest api-keys ...`: create, list and revoke the API keys of an organisation, the same
api_keys.service the owners' Settings page calls (recorded in the audit log as done from the
command line). `create` prints the key once, alone on the last line, for a script to take.

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

from payrequest.api_keys import service as api_keys
from payrequest.api_keys.models import ApiKey
from payrequest.cli_common import Org, chosen_organisation, cli_settings
from payrequest.db.scope import acting_for
from payrequest.db.session import create_engine, session_factory
from payrequest.errors import PayrequestError
from payrequest.public.common import rfc3339
from payrequest.public.ids import public_id, read_id

T = TypeVar("T")
api_keys_app = typer.Typer(
    help="API keys: what the business's own systems sign in to /api/v1 with.",
    no_args_is_help=True,
)
console = Console()


def _run(work: Callable[[AsyncSession], Awaitable[T]], *, org: str | None) -> T:
    """`work` in one transaction acting for the organisation `org` names. A refusal is one
    line on stderr and exit code 1 (2 for the organisation)."""
    settings = cli_settings()

    async def run() -> T:
        engine = create_engine(settings.database_url)
        factory = session_factory(engine)
        try:
            organisation_id = (await chosen_organisation(factory, org)).id
            with acting_for(organisation_id):
                async with factory() as session, session.begin():
                    return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except PayrequestError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


@api_keys_app.command("create")
def api_keys_create(
    name: Annotated[str, typer.Option(help="What the key is for (the ERP, the shop).")],
    scope: Annotated[str, typer.Option(help="read (GET only) or write (everything).")],
    org: Org = None,
) -> None:
    """Make a key; prints it once, alone on the last line."""

    async def work(session: AsyncSession) -> api_keys.NewKey:
        return await api_keys.create_key(session, name=name, scope=scope, actor_id=None)

    made = _run(work, org=org)
    console.print(
        f"Created API key {public_id('api_key', made.row.id)} ({made.row.scope}) "
        f"“{made.row.name}”. Store it now: it is not shown again."
    )
    typer.echo(made.secret)


@api_keys_app.command("list")
def api_keys_list(org: Org = None) -> None:
    """The organisation's keys by prefix: scope, created, last used, revoked."""
    rows: list[ApiKey] = _run(api_keys.list_keys, org=org)
    table = Table("id", "name", "prefix", "scope", "created", "last used", "revoked")
    for row in rows:
        table.add_row(
            public_id("api_key", row.id),
            row.name,
            row.prefix + "…",
            row.scope,
            rfc3339(row.created_at),
            rfc3339(row.last_used_at) if row.last_used_at else "never",
            rfc3339(row.revoked_at) if row.revoked_at else "",
        )
    console.print(table)


@api_keys_app.command("revoke")
def api_keys_revoke(
    key_id: Annotated[str, typer.Argument(metavar="ID", help="The key's id (key_3, or 3).")],
    org: Org = None,
) -> None:
    """The key stops working at once."""
    found = read_id(key_id)
    number = found[1] if found and found[0] == "api_key" else None
    if number is None and key_id.isdigit():
        number = int(key_id)
    if number is None:
        typer.echo(f"error: {key_id} is not an API key's id (key_3)", err=True)
        raise typer.Exit(2)

    async def work(session: AsyncSession) -> ApiKey:
        return await api_keys.revoke_key(session, key_id=number, actor_id=None)

    revoked = _run(work, org=org)
    console.print(f"Revoked API key {public_id('api_key', revoked.id)} “{revoked.name}”.")
