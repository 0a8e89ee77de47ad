"""FastAPI dependencies: settings, the runtime, and per-request sessions.

Rule: a handler that calls the provider (send, cancel, retry, refund) must not hold a request
session while it does; it opens its own short transactions through `runtime.sessions`.

Web modules take `AsyncSession` from here, to type a helper's session, and import no SQLAlchemy
themselves: their queries live in the domain's repositories and read models.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession  # re-exported, see above

from payrequest.config import Settings
from payrequest.runtime import Runtime


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    async with get_runtime(request).sessions() as session, session.begin():
        yield session


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for pages that only read (on SQLite it takes no write lock)."""
    async with get_runtime(request).read_sessions() as session:
        yield session


# scope="function": the transaction commits when the handler returns, BEFORE the response is
# sent. With the default ("request") it would commit after, and a browser following a
# redirect could read the page before the change it just made.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
