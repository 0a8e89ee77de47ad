"""Customer tags (issue 18): `customer_tags`, one row per (customer, tag) (customers.tags says
what a tag is); staff filter the customer list by a tag and a flow's condition can ask for
one. It belongs to an organisation; on PostgreSQL it gets the row-level security policy of
migration 0011.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The policy of migration 0011, unchanged.
POLICY = (
    "current_setting('payrequest.all_organisations', true) = 'on'"
    " OR organisation_id = nullif(current_setting('payrequest.organisation_id', true), '')::integer"
)


def upgrade() -> None:
    op.create_table(
        "customer_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_tags_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_customer_tags_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_tags")),
        sa.UniqueConstraint("customer_id", "tag", name=op.f("uq_customer_tags_customer_id_tag")),
    )
    op.create_index(op.f("ix_customer_tags_organisation_id"), "customer_tags", ["organisation_id"])
    op.create_index(
        "ix_customer_tags_organisation_id_tag", "customer_tags", ["organisation_id", "tag"]
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE customer_tags ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE customer_tags FORCE ROW LEVEL SECURITY")
        op.execute(
            "CREATE POLICY organisation_scope ON customer_tags"
            f" USING ({POLICY}) WITH CHECK ({POLICY})"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS organisation_scope ON customer_tags")
    op.drop_table("customer_tags")
