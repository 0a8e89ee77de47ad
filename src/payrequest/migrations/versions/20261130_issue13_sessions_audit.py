"""Sessions on the server, an audit log, links that replace older ones, unusable webhooks.

- `sign_in_sessions`: one row per sign-in (staff or portal); the cookie carries a random
  token whose sha256 is stored here, so signing out, a password change or a deactivation
  ends every copy of the cookie.
- `audit_log`: who did what (sign-ins, sends, cancels, refunds, edits), for owners.
- `portal_links.revoked_at`: a newer link for the same customer replaces the older ones.
- `inbound_events.status` may be `unusable`: an authentic (signed) event whose body we
  cannot read is kept and answered 2xx, and shown to operators.
- `rate_limit_hits(created_at)`: the worker's purge of expired hits reads this index.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 23:45:28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_INBOX = "status IN ('received', 'applied', 'unmatched', 'failed')"
NEW_INBOX = "status IN ('received', 'applied', 'unmatched', 'failed', 'unusable')"
WHO = (
    "(kind = 'staff' AND user_id IS NOT NULL AND customer_id IS NULL)"
    " OR (kind = 'portal' AND customer_id IS NOT NULL AND user_id IS NULL)"
)
END_REASONS = (
    "end_reason IN ('signed_out', 'password_changed', 'deactivated', 'replaced', 'revoked')"
)


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=True),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_audit_log_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_at", ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_user_id"), ["user_id"], unique=False)

    op.create_table(
        "sign_in_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=24), nullable=True),
        sa.CheckConstraint(WHO, name=op.f("ck_sign_in_sessions_who")),
        sa.CheckConstraint(END_REASONS, name=op.f("ck_sign_in_sessions_end_reason")),
        sa.CheckConstraint("kind IN ('staff', 'portal')", name=op.f("ck_sign_in_sessions_kind")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_sign_in_sessions_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sign_in_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sign_in_sessions_token_hash")),
    )
    with op.batch_alter_table("sign_in_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sign_in_sessions_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sign_in_sessions_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("portal_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("rate_limit_hits", schema=None) as batch_op:
        batch_op.create_index("ix_rate_limit_hits_created_at", ["created_at"], unique=False)

    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_inbound_events_status"), type_="check")
        batch_op.create_check_constraint("status", sa.text(NEW_INBOX))


def downgrade() -> None:
    op.execute("UPDATE inbound_events SET status = 'failed' WHERE status = 'unusable'")
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_inbound_events_status"), type_="check")
        batch_op.create_check_constraint("status", sa.text(OLD_INBOX))

    with op.batch_alter_table("rate_limit_hits", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_limit_hits_created_at")

    with op.batch_alter_table("portal_links", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")

    with op.batch_alter_table("sign_in_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_sessions_user_id"))
        batch_op.drop_index(batch_op.f("ix_sign_in_sessions_customer_id"))
    op.drop_table("sign_in_sessions")

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_user_id"))
        batch_op.drop_index("ix_audit_log_at")
    op.drop_table("audit_log")
