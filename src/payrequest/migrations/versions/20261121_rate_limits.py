"""Rate limit hits: login throttling and push-request budgets, shared by all processes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 20:35:07.121037
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_limit_hits")),
    )
    with op.batch_alter_table("rate_limit_hits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rate_limit_hits_key_created_at", ["key", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("rate_limit_hits", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_limit_hits_key_created_at")

    op.drop_table("rate_limit_hits")
