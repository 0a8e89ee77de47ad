"""Imports run by the worker (issue 17): `import_runs` keeps what was asked, how far the
worker has got and, at the end, the report (imports.runs). It belongs to an organisation; on
PostgreSQL it gets the row-level security policy of migration 0011.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The policy of migration 0011, unchanged.
POLICY = (
    "current_setting('payrequest.all_organisations', true) = 'on'"
    " OR organisation_id = nullif(current_setting('payrequest.organisation_id', true), '')::integer"
)


def upgrade() -> None:
    op.create_table(
        "import_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("upload_token", sa.String(length=64), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("bytes_read", sa.BigInteger(), nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("failure", sa.String(length=16), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')",
            name=op.f("ck_import_runs_status"),
        ),
        sa.CheckConstraint("kind IN ('customers', 'invoices')", name=op.f("ck_import_runs_kind")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_import_runs_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_runs")),
    )
    op.create_index(op.f("ix_import_runs_organisation_id"), "import_runs", ["organisation_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE import_runs ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE import_runs FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY organisation_scope ON import_runs USING ({POLICY}) WITH CHECK ({POLICY})"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS organisation_scope ON import_runs")
    op.drop_table("import_runs")
