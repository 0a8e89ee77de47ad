"""Migration 0014 on both kinds of database: up from 0013 and back down again, leaving 0013's
schema (no API tables, no external ids)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from payrequest.db.session import create_engine
from tests.integration.conftest import downgrade_to, migrate_to


def _schema(connection: Connection) -> dict[str, set[str]]:
    inspector = sa.inspect(connection)
    return {
        table: {column["name"] for column in inspector.get_columns(table)}
        for table in inspector.get_table_names()
    }


async def test_upgrade_adds_the_api_tables_and_downgrade_takes_them_away(fresh_url: str) -> None:
    migrate_to(fresh_url, "0014")
    engine = create_engine(fresh_url)
    try:
        async with engine.connect() as connection:
            upgraded = await connection.run_sync(_schema)
        await engine.dispose()
        assert {"api_keys", "api_idempotency"} <= set(upgraded)
        assert {"external_id", "organisation_number"} <= upgraded["customers"]
        assert {"external_id", "reference"} <= upgraded["invoices"]

        downgrade_to(fresh_url, "0013")
        async with engine.connect() as connection:
            downgraded = await connection.run_sync(_schema)
        assert not {"api_keys", "api_idempotency"} & set(downgraded)
        assert "external_id" not in downgraded["customers"]
        assert not {"external_id", "reference"} & downgraded["invoices"]
    finally:
        await engine.dispose()
