"""The integration surface (issue 17): keys for the REST API, its idempotency records, and the
business's own identifiers on customers and invoices.

- `customers.external_id`, `invoices.external_id`: the id the business's own system (ERP,
  accounting, shop) gives the row; unique per organisation when given; an upsert keys by it.
- `customers.organisation_number`: the customer's company number, when it is a company.
- `invoices.reference`: the payment reference printed on the invoice (KID in Norway,
  FI-/+71 in Denmark).
- `api_keys`: an organisation's keys for the API. Only a SHA-256 of each key is kept, and the
  first characters (`prefix`) to tell keys apart in Settings (docs/api.md, "Authentication").
- `api_idempotency`: what a POST with an `Idempotency-Key` answered, kept 24 hours to answer a
  retry the same way (docs/api.md, "Idempotency").

Both new tables belong to an organisation; on PostgreSQL they get the same row-level security
policy as every business table (migration 0011).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_TABLES = ("api_keys", "api_idempotency")
# The policy of migration 0011, unchanged.
POLICY = (
    "current_setting('payrequest.all_organisations', true) = 'on'"
    " OR organisation_id = nullif(current_setting('payrequest.organisation_id', true), '')::integer"
)


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("organisation_number", sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_customers_organisation_id_external_id"),
            ["organisation_id", "external_id"],
        )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("reference", sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_invoices_organisation_id_external_id"),
            ["organisation_id", "external_id"],
        )

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("scope IN ('read', 'write')", name=op.f("ck_api_keys_scope")),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_api_keys_created_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_api_keys_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_organisation_id"), "api_keys", ["organisation_id"])

    op.create_table(
        "api_idempotency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_api_idempotency_api_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_api_idempotency_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_idempotency")),
        sa.UniqueConstraint("api_key_id", "key", name=op.f("uq_api_idempotency_api_key_id_key")),
    )
    op.create_index(
        op.f("ix_api_idempotency_organisation_id"), "api_idempotency", ["organisation_id"]
    )
    op.create_index(op.f("ix_api_idempotency_created_at"), "api_idempotency", ["created_at"])

    if op.get_bind().dialect.name == "postgresql":
        for table in NEW_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY organisation_scope ON {table}"
                f" USING ({POLICY}) WITH CHECK ({POLICY})"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in NEW_TABLES:
            op.execute(f"DROP POLICY IF EXISTS organisation_scope ON {table}")
    op.drop_index(op.f("ix_api_idempotency_created_at"), table_name="api_idempotency")
    op.drop_index(op.f("ix_api_idempotency_organisation_id"), table_name="api_idempotency")
    op.drop_table("api_idempotency")
    op.drop_index(op.f("ix_api_keys_organisation_id"), table_name="api_keys")
    op.drop_table("api_keys")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_invoices_organisation_id_external_id"), type_="unique"
        )
        batch_op.drop_column("reference")
        batch_op.drop_column("external_id")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_customers_organisation_id_external_id"), type_="unique"
        )
        batch_op.drop_column("organisation_number")
        batch_op.drop_column("external_id")
