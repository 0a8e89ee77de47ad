"""Helpers for migration tests: an empty database of each kind, and migrating it to a revision."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy.engine import make_url

from payrequest.db.migrate import alembic_config, upgrade
from tests.conftest import POSTGRES_ADMIN_URL, _admin_execute, _run


def migrate_to(url: str, revision: str) -> None:
    """`alembic upgrade <revision>` (Alembic runs its own event loop: in a thread)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(upgrade, url, revision).result()


def downgrade_to(url: str, revision: str) -> None:
    with ThreadPoolExecutor(1) as pool:
        pool.submit(command.downgrade, alembic_config(url), revision).result()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind, only for this test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    request.getfixturevalue("postgresql_url")  # skips (or fails in CI) without PostgreSQL
    name = f"payrequest_mig_{uuid.uuid4().hex[:10]}"
    _run(_admin_execute(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    _run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
