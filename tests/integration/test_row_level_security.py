"""Row-level security (migration 0011), the second wall behind the session's organisation
scope (db.scope): connected as an ordinary role, as docs/deployment.md asks, SQL that forgets
the organisation sees nothing, SQL for one organisation sees and writes only its rows, and the
application's own sessions see only their organisation's rows even through raw `text()` SQL.

Two ways of being an ordinary role, both tested:
- `owner`: the role owns the database and ran `payrequest migrate` itself, so it owns every
  table; FORCE ROW LEVEL SECURITY holds it to the policies all the same;
- `granted`: a superuser migrated, the role was granted SELECT/INSERT/UPDATE/DELETE on the
  tables and USAGE on the sequences.

The rest of the suite connects as the superuser `postgres`, which bypasses row-level security:
only these tests see the policies at work. Roles are cluster-wide: each run makes its own,
with a unique name, and drops it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payrequest.customers.models import Customer
from payrequest.db.scope import ALL, UnscopedQuery, nobody, scoped_to
from payrequest.db.session import create_engine, session_factory
from payrequest.invoices.models import Invoice
from payrequest.organisations import service as organisations
from payrequest.organisations.service import NewOrganisation
from payrequest.payment_requests.models import PaymentRequest
from tests.conftest import POSTGRES_ADMIN_URL, TEST_ORGANISATION, _admin_execute
from tests.factories import make_customer, make_invoice
from tests.integration.conftest import migrate_to

pytestmark = pytest.mark.postgres

A = TEST_ORGANISATION  # the organisation migration 0011 makes
GUARDED = (
    "customers",
    "customer_tags",
    "invoices",
    "invoice_lines",
    "payment_requests",
    "payment_request_invoices",
    "payment_request_events",
    "manual_payments",
    "credits",
    "allocations",
    "refunds",
    "flows",
    "flow_actions",
    "flow_runs",
    "action_runs",
    "portal_links",
    "outbox_events",
    "audit_log",
    "inbound_events",
    "provider_connections",
    "api_keys",
    "api_idempotency",
    "webhook_endpoints",
    "webhook_events",
    "webhook_deliveries",
    "webhook_attempts",
)


@dataclass(frozen=True)
class Installation:
    admin: AsyncEngine  # the superuser: bypasses row-level security
    probe: AsyncEngine  # the ordinary role the application would connect as
    role: str
    b: int  # the second organisation


def _url(database: str, user: str | None = None) -> str:
    url = make_url(POSTGRES_ADMIN_URL).set(database=database)
    if user is not None:
        url = url.set(username=user, password=None)
    return url.render_as_string(hide_password=False)


async def _execute(url: str, *statements: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _business(probe: AsyncEngine) -> int:
    """Organisation B next to A, each with two customers, an invoice and a payment request;
    written through the application's sessions, connected as the ordinary role."""
    async with session_factory(probe, scope=ALL)() as session, session.begin():
        b = (await organisations.create(session, NewOrganisation(name="Bee AS", slug="bee"))).id
    for organisation, prefix in ((A, "A"), (b, "B")):
        async with session_factory(probe, scope=organisation)() as session, session.begin():
            first = await make_customer(session, name=f"{prefix} first")
            await make_customer(session, name=f"{prefix} second")
            invoice = await make_invoice(session, first, number=f"{prefix}-1", amount=10_000)
            session.add(
                PaymentRequest(
                    reference=f"pr-{prefix}-{uuid.uuid4().hex[:8]}",
                    customer_id=first.id,
                    currency=invoice.currency,
                    amount=10_000,
                    description=invoice.number,
                    origin="staff",
                    expires_at=datetime.now(UTC) + timedelta(days=1),
                )
            )
    return b


@pytest.fixture(params=["owner", "granted"])
async def installation(
    request: pytest.FixtureRequest, postgresql_url: str
) -> AsyncIterator[Installation]:
    """A database of its own and an ordinary role (LOGIN NOSUPERUSER NOBYPASSRLS; the server
    trusts 127.0.0.1, so no password) that owns it and migrated it (`owner`), or that a
    superuser granted the tables to (`granted`)."""
    del postgresql_url  # asked for its skip (or CI failure) when PostgreSQL is away
    suffix = uuid.uuid4().hex[:10]
    role, database = f"payrequest_rls_probe_{suffix}", f"payrequest_rls_{suffix}"
    await _admin_execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB')
    admin = probe = None
    try:
        if request.param == "owner":
            await _admin_execute(f'CREATE DATABASE "{database}" OWNER "{role}"')
            migrate_to(_url(database, role), "head")
        else:
            await _admin_execute(f'CREATE DATABASE "{database}"')
            migrate_to(_url(database), "head")
            await _execute(
                _url(database),
                f'GRANT USAGE ON SCHEMA public TO "{role}"',
                f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"',
                f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role}"',
            )
        admin, probe = create_engine(_url(database)), create_engine(_url(database, role))
        b = await _business(probe)
        yield Installation(admin, probe, role, b)
    finally:
        for engine in (admin, probe):
            if engine is not None:
                await engine.dispose()
        await _admin_execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await _admin_execute(f'DROP ROLE IF EXISTS "{role}"')


LABELS = {"customers": "name", "invoices": "number", "payment_requests": "reference"}


async def _everything(connection: AsyncConnection) -> dict[str, list[str]]:
    """What the connection sees of customers (names), invoices (numbers) and payment requests
    (references, up to the organisation's letter)."""
    seen: dict[str, list[str]] = {}
    for table, column in LABELS.items():
        rows = await connection.execute(text(f"SELECT {column} FROM {table} ORDER BY id"))  # noqa: S608
        seen[table] = [
            str(v)[:4] if table == "payment_requests" else str(v) for v in rows.scalars()
        ]
    return seen


async def _set(connection: AsyncConnection, name: str, value: str) -> None:
    """A setting for this transaction only, as db.scope sets it."""
    await connection.execute(
        text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value}
    )


def _refused_by_policy(error: DBAPIError) -> bool:
    return "row-level security" in str(error.orig)


async def test_the_role_is_ordinary_and_the_tables_are_guarded(
    installation: Installation,
) -> None:
    async with installation.probe.connect() as connection:
        who = (
            await connection.execute(
                text(
                    "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles"
                    " WHERE rolname = current_user"
                )
            )
        ).one()
        guarded = await connection.execute(
            text(
                "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
                " pg_get_userbyid(c.relowner) AS owner FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r'"
            )
        )
        tables = {row.relname: row for row in guarded}
    assert tuple(who) == (installation.role, False, False)
    for table in GUARDED:
        assert tables[table].relrowsecurity and tables[table].relforcerowsecurity, table
    # The worker's queue is claimed across organisations in one statement: no policy there.
    assert not tables["jobs"].relrowsecurity
    # The superuser sees every row without saying whose: why the application must not be one.
    async with installation.admin.connect() as connection:
        assert await _everything(connection) == {
            "customers": ["A first", "A second", "B first", "B second"],
            "invoices": ["A-1", "B-1"],
            "payment_requests": ["pr-A", "pr-B"],
        }


async def test_sql_that_names_no_organisation_sees_nothing(installation: Installation) -> None:
    async with installation.probe.connect() as connection:
        assert (await connection.execute(text("SELECT * FROM customers"))).all() == []
        assert await _everything(connection) == {
            "customers": [],
            "invoices": [],
            "payment_requests": [],
        }
        # Nor may it write a row of any organisation, or change or delete what it cannot see.
        for organisation in (A, installation.b):
            with pytest.raises(DBAPIError) as refused:
                async with connection.begin_nested():
                    await connection.execute(
                        text(
                            "INSERT INTO customers (organisation_id, number, name, country,"
                            " locale, portal_access, search_text, created_at, updated_at)"
                            " VALUES (:organisation, 'X-1', 'Intruder', 'NO', 'nb', false, '',"
                            " now(), now())"
                        ),
                        {"organisation": organisation},
                    )
            assert _refused_by_policy(refused.value)
        assert (await connection.execute(text("UPDATE customers SET name = 'x'"))).rowcount == 0
        assert (await connection.execute(text("DELETE FROM invoice_lines"))).rowcount == 0
        # The installation's own rows (no organisation: a failed sign-in of an unknown address)
        # are no business's: written and read without naming one.
        await connection.execute(
            text(
                "INSERT INTO audit_log (at, action, details, address)"
                " VALUES (now(), 'staff.sign_in_failed', '{}', '198.51.100.7')"
            )
        )
        own = await connection.execute(text("SELECT organisation_id, action FROM audit_log"))
        assert own.all() == [(None, "staff.sign_in_failed")]
        await connection.rollback()


async def test_sql_for_one_organisation_sees_and_writes_only_its_rows(
    installation: Installation,
) -> None:
    b = installation.b
    async with installation.probe.connect() as connection:
        await _set(connection, "payrequest.organisation_id", str(A))
        assert await _everything(connection) == {
            "customers": ["A first", "A second"],
            "invoices": ["A-1"],
            "payment_requests": ["pr-A"],
        }
        organisations = await connection.execute(
            text("SELECT DISTINCT organisation_id FROM customers")
        )
        assert organisations.scalars().all() == [A]
        # A row for B is refused (WITH CHECK), so is moving one of A's rows to B; B's rows can
        # be neither changed nor deleted (USING).
        with pytest.raises(DBAPIError) as refused:
            async with connection.begin_nested():
                await connection.execute(
                    text(
                        "INSERT INTO customers (organisation_id, number, name, country, locale,"
                        " portal_access, search_text, created_at, updated_at)"
                        " VALUES (:b, 'X-1', 'Intruder', 'NO', 'nb', false, '', now(), now())"
                    ),
                    {"b": b},
                )
        assert _refused_by_policy(refused.value)
        with pytest.raises(DBAPIError) as refused:
            async with connection.begin_nested():
                await connection.execute(
                    text("UPDATE customers SET organisation_id = :b"), {"b": b}
                )
        assert _refused_by_policy(refused.value)
        changed = await connection.execute(
            text("UPDATE customers SET name = 'x' WHERE organisation_id = :b"), {"b": b}
        )
        assert changed.rowcount == 0
        deleted = await connection.execute(
            text("DELETE FROM invoice_lines WHERE organisation_id = :b"), {"b": b}
        )
        assert deleted.rowcount == 0
        # The setting lasts the transaction only.
        await connection.rollback()
        assert (await connection.execute(text("SELECT * FROM customers"))).all() == []
        await connection.rollback()

        await _set(connection, "payrequest.organisation_id", str(b))
        assert await _everything(connection) == {
            "customers": ["B first", "B second"],
            "invoices": ["B-1"],
            "payment_requests": ["pr-B"],
        }
        await connection.rollback()


async def test_all_organisations_sees_every_row(installation: Installation) -> None:
    async with installation.probe.connect() as connection:
        await _set(connection, "payrequest.all_organisations", "on")
        assert await _everything(connection) == {
            "customers": ["A first", "A second", "B first", "B second"],
            "invoices": ["A-1", "B-1"],
            "payment_requests": ["pr-A", "pr-B"],
        }
        await connection.rollback()
        await _set(connection, "payrequest.all_organisations", "off")
        assert (await connection.execute(text("SELECT * FROM customers"))).all() == []
        await connection.rollback()


async def test_the_applications_sessions_see_only_their_organisation(
    installation: Installation,
) -> None:
    """db.scope sets the transaction's setting: the ORM sees A's rows by its own criteria and
    by the policies, and raw `text()` SQL, which the ORM criteria never reach, by the
    policies alone."""
    async with session_factory(installation.probe, scope=A)() as session:
        customers = (await session.scalars(select(Customer).order_by(Customer.id))).all()
        assert [(c.organisation_id, c.name) for c in customers] == [
            (A, "A first"),
            (A, "A second"),
        ]
        invoices = (await session.scalars(select(Invoice.number))).all()
        assert invoices == ["A-1"]
        raw = await session.execute(text("SELECT name, organisation_id FROM customers ORDER BY id"))
        assert raw.all() == [("A first", A), ("A second", A)]
        raw_requests = await session.execute(text("SELECT organisation_id FROM payment_requests"))
        assert raw_requests.scalars().all() == [A]
        # Its second transaction is scoped the same way.
        await session.commit()
        again = await session.execute(text("SELECT count(*) FROM customers"))
        assert again.scalar_one() == 2

    # A session acting for nobody: the ORM refuses (UnscopedQuery); raw SQL sees nothing.
    with nobody():
        async with session_factory(installation.probe)() as session:
            with pytest.raises(UnscopedQuery):
                await session.scalars(select(Customer))
        async with session_factory(installation.probe)() as session:
            raw = await session.execute(text("SELECT count(*) FROM customers"))
            assert raw.scalar_one() == 0

    # Acting for all of them (the worker's own work, the operator's overview) sees everyone.
    async with session_factory(installation.probe)(info=scoped_to(ALL)) as session:
        everyone = await session.execute(text("SELECT count(*) FROM customers"))
        assert everyone.scalar_one() == 4
