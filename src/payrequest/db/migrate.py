"""Run Alembic migrations from code (`payrequest migrate`, `payrequest demo`, tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "payrequest:migrations")
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations. Runs its own event loop: call it from sync code or a worker thread."""
    command.upgrade(alembic_config(database_url), revision)
