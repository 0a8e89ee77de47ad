"""`payrequest orgs ...`: create an organisation (one business on this installation) and list
them with their members and customers. Work for the installation, not for one organisation:
its sessions act for every organisation (db.scope.ALL)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.config import ConfigurationError, Settings, load_settings
from payrequest.customers.models import Customer
from payrequest.db.scope import ALL
from payrequest.db.session import create_engine, session_factory
from payrequest.errors import PayrequestError
from payrequest.organisations import service as organisations
from payrequest.organisations.models import LOCALES, MARKETS, Organisation

T = TypeVar("T")
orgs_app = typer.Typer(
    help="Organisations: the businesses on this installation.", no_args_is_help=True
)
console = Console()


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


def _for_everyone(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """`work` in one transaction acting for every organisation; a refusal is one line on
    stderr and exit code 1."""
    settings = _settings()

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine, scope=ALL)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except PayrequestError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


@orgs_app.command("create")
def orgs_create(
    name: Annotated[str, typer.Option(help="The business's name, as on receipts.")],
    slug: Annotated[
        str, typer.Option(help="Short name: lower-case letters, digits and hyphens (for --org).")
    ],
    market: Annotated[str, typer.Option(help=f"One of: {', '.join(MARKETS)}.")] = "NO",
    locale: Annotated[
        str | None,
        typer.Option(help=f"Language, one of: {', '.join(LOCALES)} (default: the market's)."),
    ] = None,
    organisation_number: Annotated[str, typer.Option(help="For receipts.")] = "",
    address: Annotated[str, typer.Option(help="One line, for receipts.")] = "",
) -> None:
    """Create an organisation; prints its short name and id."""

    async def work(session: AsyncSession) -> Organisation:
        return await organisations.create(
            session,
            organisations.NewOrganisation(
                name=name,
                slug=slug,
                market=market.upper(),
                default_locale=locale,
                organisation_number=organisation_number,
                address=address,
            ),
        )

    created = _for_everyone(work)
    console.print(f"Created organisation {created.slug} (id {created.id})")


@orgs_app.command("list")
def orgs_list() -> None:
    """Every organisation: market, currency, status, active members and customers."""

    async def work(
        session: AsyncSession,
    ) -> tuple[list[Organisation], dict[int, int], dict[int, int]]:
        customers = await session.execute(
            select(Customer.organisation_id, func.count(Customer.id)).group_by(
                Customer.organisation_id
            )
        )
        return (
            await organisations.list_all(session),
            await organisations.member_counts(session),
            {org: int(number) for org, number in customers},
        )

    found, members, customers = _for_everyone(work)
    table = Table("slug", "name", "market", "currency", "status", "members", "customers")
    for org in found:
        table.add_row(
            org.slug,
            org.name,
            org.market,
            org.currency,
            org.status,
            str(members.get(org.id, 0)),
            str(customers.get(org.id, 0)),
        )
    console.print(table)
