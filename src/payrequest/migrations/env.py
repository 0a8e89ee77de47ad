"""Alembic environment: async engine, URL from settings (or `sqlalchemy.url` set in code)."""

from __future__ import annotations

import asyncio
import logging.config
from typing import Any, Literal

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Connection

from payrequest.config import load_settings
from payrequest.db.session import create_engine
from payrequest.db.types import UTCDateTime
from payrequest.tables import metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    return url or load_settings().database_url


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Write our own column types as plain SQLAlchemy ones, so migrations stand alone."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_item=_render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    if connection.dialect.name == "postgresql":
        # Migrations move every organisation's rows: row-level security (migration 0011, FORCE
        # so the owner is held to it) would otherwise make their UPDATEs touch nothing.
        connection.exec_driver_sql("SELECT set_config('payrequest.all_organisations', 'on', false)")
    with context.begin_transaction():
        context.run_migrations()


def _foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
    """Batch mode rebuilds a SQLite table (copy, drop, rename); with foreign keys enforced the
    drop of a table that other rows point at fails. They are checked after the migration."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


async def _run_online() -> None:
    engine = create_engine(_database_url())
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _foreign_keys_off)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
        if connection.dialect.name == "sqlite":
            broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
            await connection.rollback()
            if broken:
                raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_database_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
