"""`alembic upgrade head` on an empty database of each kind, and no drift from the models."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from payrequest.tables import metadata


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_upgrade_creates_every_table_and_autogenerate_finds_no_difference(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:
        tables = await connection.run_sync(_tables)
        diff = await connection.run_sync(_diff)
    assert set(metadata.tables) <= tables
    assert "alembic_version" in tables
    assert diff == [], f"models and migrations differ: {diff}"


async def test_partial_unique_index_exists(engine: AsyncEngine) -> None:
    def indexes(connection: Connection) -> dict[str, dict[str, Any]]:
        found = inspect(connection).get_indexes("payment_request_invoices")
        return {str(ix["name"]): dict(ix) for ix in found}

    async with engine.connect() as connection:
        found = await connection.run_sync(indexes)
    index = found["uq_payment_request_invoices_one_active_per_invoice"]
    assert index["unique"]
    assert index["column_names"] == ["invoice_id"]
