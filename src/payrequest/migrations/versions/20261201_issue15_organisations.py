"""Organisations: many businesses on one installation, each row belonging to exactly one.

- `organisations`: the business, its receipts' identity, portal branding and the settings that
  were the installation's (request lifetime, long-living approved, partial payments in the
  portal, credit applied by itself).
- `memberships`: a person's role in an organisation (the role moves there from `users`);
  `users.is_operator` marks the people who run the installation itself.
- `organisation_id` on every business table (NOT NULL, foreign key, indexed); nullable on the
  tables that also hold the installation's own rows (jobs of the worker, inbox rows no
  business claims, audit entries and rate-limit hits of unknown visitors, sign-in sessions).
  Customer and invoice numbers become unique per organisation.
- An existing single-business database moves, whole, into one organisation created from the
  current settings (PAYREQUEST_BUSINESS__*, the market, lifetime and portal settings); its
  owners become the installation's operators. A fresh database gets that organisation too:
  an installation with one business is an installation with one organisation.
- On PostgreSQL, row-level security on every business table (FORCE, so the owner is held to
  it as well): a transaction sees the rows of the organisation in `payrequest.organisation_id`,
  or every row when `payrequest.all_organisations` is `on` (db/scope.py sets both per
  transaction). A superuser bypasses row-level security: deploy with an ordinary role
  (docs/deployment.md).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 03:20:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REQUIRED = (
    "customers",
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
)
OPTIONAL = ("audit_log", "inbound_events", "jobs")
# Not business rows themselves, but kept with the organisation they were for (no row-level
# security: they are read before the organisation is known, by their token or bucket).
NOTED = ("sign_in_sessions", "rate_limit_hits")
SCOPED = REQUIRED + OPTIONAL
# Row-level security on the business tables; not on `jobs`, the worker's queue, which the
# worker claims across organisations in one autocommit statement (the ORM scope still holds).
GUARDED = tuple(t for t in SCOPED if t != "jobs")

POLICY = (
    "current_setting('payrequest.all_organisations', true) = 'on'"
    " OR organisation_id = nullif(current_setting('payrequest.organisation_id', true), '')::integer"
)

INSTALLATIONS = (
    "organisation_id IS NULL"
    " AND nullif(current_setting('payrequest.organisation_id', true), '') IS NULL"
)


def _first_organisation() -> dict[str, object]:
    """The organisation the existing data moves into, from the current settings."""
    values: dict[str, object] = {
        "slug": "main",
        "name": "My business",
        "organisation_number": "",
        "market": "NO",
        "default_locale": "nb",
        "address": "",
        "request_lifetime_minutes": 60 * 24,
        "long_living_approved": False,
        "portal_partial_payments": False,
        "auto_apply_credit": False,
    }
    try:
        from payrequest.config import load_settings

        settings = load_settings()
    except Exception as exc:  # settings that do not load must not stop the schema from moving
        logging.getLogger("alembic").warning(
            "migration 0011: the settings did not load (%s); the first organisation is named %r"
            " until an owner renames it in Settings",
            exc,
            values["name"],
        )
        return values
    values.update(
        name=settings.business.name or values["name"],
        organisation_number=settings.business.organisation_number,
        market=settings.vipps.market,
        default_locale=settings.default_locale,
        address=settings.business.address,
        request_lifetime_minutes=settings.vipps.default_lifetime_minutes,
        long_living_approved=settings.vipps.long_living_approved,
        portal_partial_payments=settings.portal.partial_payments,
        auto_apply_credit=settings.ledger.auto_apply_credit,
    )
    return values


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    organisations = op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("organisation_number", sa.String(length=30), nullable=False),
        sa.Column("market", sa.String(length=2), nullable=False),
        sa.Column("default_locale", sa.String(length=5), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("logo_url", sa.String(length=500), nullable=True),
        sa.Column("brand_colour", sa.String(length=7), nullable=True),
        sa.Column("sms_sender", sa.String(length=11), nullable=True),
        sa.Column("request_lifetime_minutes", sa.Integer(), nullable=False),
        sa.Column("long_living_approved", sa.Boolean(), nullable=False),
        sa.Column("portal_partial_payments", sa.Boolean(), nullable=False),
        sa.Column("auto_apply_credit", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("market IN ('NO', 'DK', 'FI')", name=op.f("ck_organisations_market")),
        sa.CheckConstraint(
            "default_locale IN ('nb', 'da', 'en')", name=op.f("ck_organisations_default_locale")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'suspended')", name=op.f("ck_organisations_status")
        ),
        sa.CheckConstraint(
            "request_lifetime_minutes BETWEEN 10 AND 86400", name=op.f("ck_organisations_lifetime")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("slug", name=op.f("uq_organisations_slug")),
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('owner', 'staff', 'readonly')", name=op.f("ck_memberships_role")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_memberships_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_memberships_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
        sa.UniqueConstraint(
            "user_id", "organisation_id", name=op.f("uq_memberships_user_id_organisation_id")
        ),
    )
    op.create_index(op.f("ix_memberships_user_id"), "memberships", ["user_id"])
    op.create_index(op.f("ix_memberships_organisation_id"), "memberships", ["organisation_id"])

    first = _first_organisation()
    op.execute(
        organisations.insert().values(
            id=1, status="active", created_at=sa.func.current_timestamp(), **first
        )
    )
    if postgresql:
        op.execute("SELECT setval(pg_get_serial_sequence('organisations', 'id'), 1)")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_operator", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute(
        "INSERT INTO memberships (user_id, organisation_id, role, is_active, created_at)"
        " SELECT id, 1, role, is_active, created_at FROM users"
    )
    op.execute("UPDATE users SET is_operator = TRUE WHERE role = 'owner'")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_users_role"), type_="check")
        batch_op.drop_column("role")

    for table in SCOPED + NOTED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
    for table in REQUIRED:
        op.execute(f"UPDATE {table} SET organisation_id = 1")  # noqa: S608 (names above)
    for table in OPTIONAL + NOTED:
        op.execute(f"UPDATE {table} SET organisation_id = 1")  # noqa: S608 (names above)
    # ... except the worker's periodic runs (dedupe key "periodic:<kind>:<slot>"), which are
    # the installation's own: they act for every organisation.
    op.execute("UPDATE jobs SET organisation_id = NULL WHERE dedupe_key LIKE 'periodic:%'")
    for table in SCOPED + NOTED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table in REQUIRED:
                batch_op.alter_column("organisation_id", existing_type=sa.Integer(), nullable=False)
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_organisation_id_organisations"),
                "organisations",
                ["organisation_id"],
                ["id"],
            )
            batch_op.create_index(batch_op.f(f"ix_{table}_organisation_id"), ["organisation_id"])

    for table in ("customers", "invoices"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"uq_{table}_number"), type_="unique")
            batch_op.create_unique_constraint(
                batch_op.f(f"uq_{table}_organisation_id_number"), ["organisation_id", "number"]
            )

    _connections()
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.execute("UPDATE users SET email_verified_at = created_at")

    if postgresql:
        for table in (*GUARDED, "provider_connections"):
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            # The installation's own rows (no organisation) of the optional tables are no
            # business's: work acting for no single organisation may read and write them.
            policy = f"({INSTALLATIONS}) OR {POLICY}" if table in OPTIONAL else POLICY
            op.execute(
                f"CREATE POLICY organisation_scope ON {table}"
                f" USING ({policy}) WITH CHECK ({policy})"
            )


def _connections() -> None:
    """Each organisation's own provider connection (credentials sealed), and which
    connection a webhook registration belongs to."""
    op.create_table(
        "provider_connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("market", sa.String(length=2), nullable=False),
        sa.Column("merchant_serial_number", sa.String(length=10), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=True),
        sa.Column("client_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("subscription_key_encrypted", sa.Text(), nullable=True),
        sa.Column("webhook_token", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "mode IN ('sandbox', 'test', 'production')", name=op.f("ck_provider_connections_mode")
        ),
        sa.CheckConstraint(
            "status IN ('unchecked', 'connected', 'failing')",
            name=op.f("ck_provider_connections_status"),
        ),
        sa.CheckConstraint(
            "market IN ('NO', 'DK', 'FI')", name=op.f("ck_provider_connections_market")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_provider_connections_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_connections")),
        sa.UniqueConstraint(
            "organisation_id",
            "provider",
            name=op.f("uq_provider_connections_organisation_id_provider"),
        ),
        sa.UniqueConstraint("webhook_token", name=op.f("uq_provider_connections_webhook_token")),
    )
    op.create_index(
        op.f("ix_provider_connections_organisation_id"),
        "provider_connections",
        ["organisation_id"],
    )
    with op.batch_alter_table("webhook_registrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("connection_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_webhook_registrations_connection_id_provider_connections"),
            "provider_connections",
            ["connection_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_webhook_registrations_connection_id"), ["connection_id"]
        )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("DROP POLICY IF EXISTS organisation_scope ON provider_connections")
        for table in GUARDED:
            op.execute(f"DROP POLICY IF EXISTS organisation_scope ON {table}")
            op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    for table in ("customers", "invoices"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(
                batch_op.f(f"uq_{table}_organisation_id_number"), type_="unique"
            )
            batch_op.create_unique_constraint(batch_op.f(f"uq_{table}_number"), ["number"])
    for table in SCOPED + NOTED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_organisation_id"))
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_organisation_id_organisations"), type_="foreignkey"
            )
            batch_op.drop_column("organisation_id")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(length=16), nullable=False, server_default="staff")
        )
    op.execute(
        "UPDATE users SET role = (SELECT m.role FROM memberships m WHERE m.user_id = users.id"
        " ORDER BY m.organisation_id LIMIT 1) WHERE id IN (SELECT user_id FROM memberships)"
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("role", server_default=None, existing_type=sa.String(length=16))
        batch_op.create_check_constraint(
            batch_op.f("ck_users_role"), "role IN ('owner', 'staff', 'readonly')"
        )
        batch_op.drop_column("is_operator")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email_verified_at")
    with op.batch_alter_table("webhook_registrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_registrations_connection_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_webhook_registrations_connection_id_provider_connections"),
            type_="foreignkey",
        )
        batch_op.drop_column("connection_id")
    op.drop_table("provider_connections")
    op.drop_table("memberships")
    op.drop_table("organisations")
