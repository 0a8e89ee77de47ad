"""The web application: `create_app(settings)` builds everything the process needs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from payrequest import __version__
from payrequest.config import Settings, load_settings
from payrequest.db.session import create_engine, session_factory
from payrequest.web import errors, health, pages


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    engine = create_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(title="payrequest", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    errors.install(app)
    app.include_router(health.router)
    pages.install(app, settings)
    return app
