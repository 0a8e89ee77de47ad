"""Run Alembic migrations from code (`payrequest migrate`, `payrequest demo`, tests), and tell
whether a database is ready for this version of payrequest (`/readyz`, start-up checks).

Whatever is printed about a database shows its URL through `shown_url`, never its password.
"""

from __future__ import annotations

import asyncio
import errno
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine

from payrequest.db.session import create_engine, sqlite_path

READY_TIMEOUT = 5.0  # seconds to reach the database before calling it unreachable
MIGRATE = "run `payrequest migrate`"
VERSION_TABLE = "alembic_version"  # where Alembic keeps the revision a database is at


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "payrequest:migrations")
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations. Runs its own event loop: call it from sync code or a worker thread."""
    command.upgrade(alembic_config(database_url), revision)


def shown_url(url: str) -> str:
    """`url` as it may be printed or logged: the password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unreadable database URL)"


def missing_folder(url: str) -> Path | None:
    """The folder a SQLite file URL names that does not exist (None: it exists, or not SQLite).
    Migrations refuse it rather than create folders from a mistyped path."""
    path = sqlite_path(url)
    if path is None or path.parent.is_dir():
        return None
    return path.parent


@cache
def head_revision() -> str:
    """The newest migration this version of payrequest knows."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


@cache
def _known_revisions() -> frozenset[str]:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return frozenset(revision.revision for revision in script.walk_revisions())


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether the database answers and is migrated to this version's head. `problem` is
    "" (ready), "unreachable", "not_migrated" or "newer" (migrated by a newer payrequest);
    `reason` is one line for an operator, naming the fix."""

    problem: str
    reason: str
    current: tuple[str, ...] = ()
    head: str = ""

    @property
    def ready(self) -> bool:
        return not self.problem


def _current_heads(connection: Connection) -> tuple[str, ...]:
    """What Alembic's MigrationContext.get_current_heads reads, without its log lines at every
    readiness check."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return ()
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))  # noqa: S608
    return tuple(str(row[0]) for row in rows)


def unreachable_reason(url: str, exc: BaseException) -> str:
    """`cannot reach the database at <url without password>: <why, in a few words>`."""
    return f"cannot reach the database at {shown_url(url)}: {_why(exc)}"


def _why(exc: BaseException) -> str:
    inner: BaseException = getattr(exc, "orig", None) or exc.__cause__ or exc
    if isinstance(inner, TimeoutError):
        return f"no answer within {READY_TIMEOUT:g} s"
    if isinstance(inner, OSError) and inner.errno is not None:
        if inner.errno == errno.ECONNREFUSED:
            return "connection refused"
        return (inner.strerror or str(inner)).lower()
    text = str(inner).strip().splitlines()[0] if str(inner).strip() else type(inner).__name__
    return text.removeprefix("(sqlite3.OperationalError) ")


async def readiness(engine: AsyncEngine, *, url: str | None = None) -> Readiness:
    """Ask the database which migration it is at and compare with this version's head."""
    head = head_revision()
    shown = url or engine.url.render_as_string(hide_password=True)
    try:
        async with asyncio.timeout(READY_TIMEOUT), engine.connect() as connection:
            current = await connection.run_sync(_current_heads)
    except Exception as exc:
        return Readiness("unreachable", unreachable_reason(shown, exc), head=head)
    if current == (head,):
        return Readiness("", "", current, head)
    if not current:
        return Readiness("not_migrated", f"database not migrated: {MIGRATE}", current, head)
    if any(revision not in _known_revisions() for revision in current):
        return Readiness(
            "newer",
            f"database is at migration {', '.join(current)}, which this version of payrequest "
            f"does not know (its newest is {head}): install the newer payrequest",
            current,
            head,
        )
    return Readiness(
        "not_migrated",
        f"database not migrated to this version (at {', '.join(current)}, newest {head}): "
        f"{MIGRATE}",
        current,
        head,
    )


async def check_database(url: str) -> Readiness:
    """`readiness` for a URL, from a process that has no engine yet (start-up checks). A SQLite
    file that does not exist is not created: it is simply not migrated."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        folder = missing_folder(url)
        if folder is not None:
            return Readiness(
                "unreachable",
                f"cannot open the database at {shown_url(url)}: the folder {folder} does not exist",
                head=head_revision(),
            )
        return Readiness("not_migrated", f"database not migrated: {MIGRATE}", head=head_revision())
    engine = create_engine(url)
    try:
        return await readiness(engine, url=url)
    finally:
        await engine.dispose()
