"""`payrequest backup --to FILE`: a consistent copy of a SQLite database while it is in use.

SQLite's `VACUUM INTO` writes a compacted copy inside one read transaction: the web app and the
worker go on meanwhile (they wait only if they write for longer than the busy timeout). The copy
is then opened on its own and checked (`PRAGMA integrity_check`, a few row counts). PostgreSQL
installations use `pg_dump` instead (docs/deployment.md, "Backups").
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from payrequest.db.session import sqlite_path

BUSY_MS = 30_000  # how long the copy waits for a writer to finish before giving up


class BackupRefused(Exception):
    """The backup was not made; the message is one line saying why."""


@dataclass(frozen=True, slots=True)
class Copied:
    path: Path
    customers: int
    invoices: int
    payment_requests: int


def sqlite_backup(database_url: str, target: Path) -> Copied:
    source = sqlite_path(database_url)
    if source is None:
        raise BackupRefused(
            "payrequest backup copies SQLite databases; for PostgreSQL use pg_dump "
            "(docs/deployment.md, Backups)"
        )
    if not source.exists():
        raise BackupRefused(f"there is no database at {source}")
    target = target.resolve()
    if target.exists():
        raise BackupRefused(f"{target} exists already; choose a new file name")
    if not target.parent.is_dir():
        raise BackupRefused(f"the folder {target.parent} does not exist")
    # Read-only: the backup never writes to (or creates) the live database.
    with closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as live:
        live.execute(f"PRAGMA busy_timeout={BUSY_MS}")
        live.execute("VACUUM INTO ?", (str(target),))
    with closing(sqlite3.connect(f"{target.as_uri()}?mode=ro", uri=True)) as copy:
        verdict = copy.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise BackupRefused(f"the copy at {target} failed its integrity check: {verdict}")
        counts = [
            int(copy.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608
            for table in ("customers", "invoices", "payment_requests")
        ]
    return Copied(target, *counts)
