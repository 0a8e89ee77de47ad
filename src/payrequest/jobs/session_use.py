"""Whether a handler's session reached the database.

A handler whose session never began a transaction on a connection wrote nothing there, so
its completion need not share a commit with its work: the worker may record it in a batch
(jobs.completions). Any statement, flush or `session.connection()` begins one, which the
`after_begin` event below notes in the session's `info`; objects added or changed but not yet
flushed count as use too (the commit would flush them).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

_USED = "payrequest.jobs.used_database"


def watching() -> dict[str, Any]:
    """`Session.info` entries that make `used_database` answer for the session."""
    return {_USED: False}


def used_database(session: AsyncSession) -> bool:
    """Whether `session` began a transaction on a connection, or holds changes its commit
    would flush (which would begin one); True for a session made without `watching()`
    (unknown is treated as used)."""
    if session.info.get(_USED) is not False:
        return True
    return bool(session.new or session.dirty or session.deleted)


@event.listens_for(Session, "after_begin")
def _note_use(session: Session, _transaction: SessionTransaction, _connection: Connection) -> None:
    if _USED in session.info:
        session.info[_USED] = True
