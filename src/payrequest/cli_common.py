"""What the organisation-scoped commands (`staff`, `api-keys`, `import`, `export`) share: the
`--org` option, loading the settings, and finding the organisation `--org` names."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.config import ConfigurationError, Settings, load_settings
from payrequest.db.scope import ALL, scoped_to
from payrequest.errors import PayrequestError
from payrequest.organisations import service as organisations
from payrequest.organisations.models import Organisation

Org = Annotated[
    str | None,
    typer.Option(
        "--org", help="The organisation's short name (may be left out while there is only one)."
    ),
]


def cli_settings() -> Settings:
    """The settings from the environment; a configuration error is one line and exit code 2."""
    try:
        return load_settings()
    except ConfigurationError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


async def chosen_organisation(
    sessions: async_sessionmaker[AsyncSession], slug: str | None
) -> Organisation:
    """The organisation `--org` names (or the only one); exit code 2 naming the short names
    there are when it names none, or is left out among several."""
    async with sessions(info=scoped_to(ALL)) as session:
        try:
            return await organisations.chosen(session, slug)
        except PayrequestError as exc:
            typer.echo(f"error: {exc.message} (--org SLUG)", err=True)
            raise typer.Exit(2) from None
