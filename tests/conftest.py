"""Shared fixtures: a migrated database of each kind (SQLite and PostgreSQL), sessions, apps.

PostgreSQL: set PAYREQUEST_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres,
used only to create and drop a throw-away database per run). Unreachable PostgreSQL skips those
tests with a clear reason, except under CI (CI=true), where it fails the run.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from payrequest.db.migrate import upgrade
from payrequest.db.scope import acting_for
from payrequest.db.session import create_engine, session_factory
from payrequest.tables import metadata
from payrequest.users import passwords

POSTGRES_ADMIN_URL = os.environ.get(
    "PAYREQUEST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Fixtures every test may ask for: `mailbox` and `mailbox_server` (a real SMTP server).
pytest_plugins = ["tests.mailbox"]


def migrate(url: str) -> None:
    """Alembic runs its own event loop; keep it off any loop the test session has."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(upgrade, url).result()


async def _admin_execute(statement: str) -> None:
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def _run(coro: object) -> None:
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()  # type: ignore[arg-type]


# The PostgreSQL tests connect as an ordinary role that owns their database, as a deployment
# should (docs/deployment.md, section 10): a superuser would skip row-level security, and the
# tests would not show the second wall holding. The role is made once per cluster.
APP_ROLE = "payrequest_test_owner"
_MAKE_APP_ROLE = f"""
DO $$ BEGIN
  CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- two test processes at once
END $$
"""


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2id with its cheapest parameters in this process (argon2.profiles.CHEAPEST): the
    product's parameters take a tenth of a second a hash by design, which made signing staff
    in a third of the suite's time. Hashes made here are still Argon2id and verify the same
    way; servers started as processes (the demo, `payrequest serve`) hash as in production."""
    product = passwords._hasher
    passwords._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    yield
    passwords._hasher = product


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test run, owned by (and used as) an
    ordinary role; dropped afterwards."""
    name = f"payrequest_test_{uuid.uuid4().hex[:10]}"
    try:
        _run(_admin_execute(_MAKE_APP_ROLE))
        _run(_admin_execute(f'CREATE DATABASE "{name}" OWNER {APP_ROLE}'))
    except Exception as exc:
        message = (
            f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc.__class__.__name__}: {exc}"
        )
        if IN_CI:
            pytest.fail(f"{message} (CI=true: the PostgreSQL half must run)", pytrace=False)
        pytest.skip(f"{message}; PostgreSQL tests skipped")
    url = (
        make_url(POSTGRES_ADMIN_URL)
        .set(database=name, username=APP_ROLE, password=None)
        .render_as_string(hide_password=False)
    )
    yield url
    _run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite") / "payrequest.db"
    return f"sqlite:///{path}"


@pytest.fixture(
    scope="session",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ],
)
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated database of each kind; every test using it runs on both."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    migrate(url)
    return url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


FIRST_ORGANISATION_RESET = text(
    "UPDATE organisations SET name = 'My business', slug = 'main', organisation_number = '',"
    " market = 'NO', default_locale = 'nb', address = '', logo_url = NULL,"
    " brand_colour = NULL, sms_sender = NULL, request_lifetime_minutes = 1440,"
    " long_living_approved = FALSE, portal_partial_payments = FALSE,"
    " auto_apply_credit = FALSE, status = 'active' WHERE id = 1"
)
TEST_ORGANISATION = 1  # the organisation migration 0011 creates; every test acts for it


@pytest.fixture(autouse=True)
def _acting_for_the_test_organisation() -> Iterator[None]:
    """Tests act for the organisation the migration made (a single-business installation),
    as a web request does once it knows who asks; tests of several organisations say whom
    they act for themselves. (Set here, outside any event loop, so every task of the test
    inherits it; the web app starts each request acting for nobody all the same.)"""
    with acting_for(TEST_ORGANISATION):
        yield


async def _wipe(engine: AsyncEngine) -> None:
    """Empty every table but the first organisation, which goes back to how the migration
    made it."""
    tables = [t for t in reversed(metadata.sorted_tables) if t.name != "organisations"]
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            # Break the cycles first (customers.suggested_phone_request_id -> payment_requests).
            for table in tables:
                cyclic = {fk.parent.name: None for fk in table.foreign_keys if fk.use_alter}
                if cyclic:
                    await connection.execute(table.update().values(cyclic))
            for table in tables:
                await connection.execute(table.delete())
        await connection.execute(
            text("DELETE FROM organisations WHERE id <> :first"), {"first": TEST_ORGANISATION}
        )
        await connection.execute(FIRST_ORGANISATION_RESET)


@pytest.fixture
async def sessions(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on a clean database (every table emptied after the test)."""
    yield session_factory(engine)
    await _wipe(engine)


@pytest.fixture
async def session(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that the test may commit or leave open."""
    async with sessions() as session:
        yield session
        if session.in_transaction():
            await session.rollback()


# --- Browser tests: Debian's Chromium driven by Playwright ------------------------------------

CHROMIUM = os.environ.get("PAYREQUEST_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TEST_RESULTS = Path(__file__).resolve().parents[1] / "test-results"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 - once per session, before any loop work
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A fresh browser context; a full-page screenshot is saved under test-results/."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    tab = await context.new_page()
    yield tab
    TEST_RESULTS.mkdir(exist_ok=True)
    if not tab.is_closed():
        await tab.screenshot(path=str(TEST_RESULTS / f"{request.node.name}.png"), full_page=True)
    await context.close()
