"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from payrequest.db.scope import Scope, scoped_to

ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def async_url(url: str) -> str:
    """Turn a plain `sqlite:///x.db` or `postgresql://...` URL into its async-driver form."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in ASYNC_DRIVERS:
        raise ValueError(f"unsupported database {backend!r}")
    if parsed.drivername == backend:
        parsed = parsed.set(drivername=ASYNC_DRIVERS[backend])
    return parsed.render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy's "begin" event below start transactions, not the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    full = async_url(url)
    path = sqlite_path(full)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(full, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
    return engine


def writer_engine(url: str) -> AsyncEngine:
    """The engine for sessions that write.

    On a SQLite file it holds one connection. SQLite lets one writer in at a time anyway; a
    writer waiting for the pool's single connection is woken the moment it is free, first come
    first served, where one waiting inside SQLite's busy handler sleeps up to 100 ms between
    tries, which is what made the slowest webhook acknowledgements slow. Readers use their own
    engine (`create_engine`), so pages and live streams never wait for it."""
    if sqlite_path(async_url(url)) is not None:
        return create_engine(url, pool_size=1, max_overflow=0)
    return create_engine(url)


READ_ONLY = "payrequest_read_only"


def _sqlite_begin_immediate(connection: Connection) -> None:
    """Take SQLite's write lock at BEGIN: what PostgreSQL does with row locks, SQLite does by
    serialising writers, without the deadlock of two readers upgrading at once. Sessions made
    by `read_only_factory` only read, and begin without the lock."""
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(
    engine: AsyncEngine, *, scope: Scope | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions on `engine`. With `scope`, every session acts for it (db.scope); without, each
    takes the scope in effect where it is used."""
    info = scoped_to(scope) if scope is not None else {}
    return async_sessionmaker(engine, expire_on_commit=False, info=info)


def read_only_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for pages and streams that only read: on SQLite they take no write lock."""
    return async_sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on any error."""
    async with sessions() as session, session.begin():
        yield session


async def database_reachable(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True
