"""Automations: flows (trigger, conditions, ordered actions), their runs and action runs;
two ready-made flows, switched off.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 21:01:47.885896
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("webhook_secret", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flows")),
    )
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flows_trigger"), ["trigger"], unique=False)

    op.create_table(
        "flow_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('sms', 'email', 'webhook', 'wait', 'portal_link')",
            name=op.f("ck_flow_actions_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["flow_id"],
            ["flows.id"],
            name=op.f("fk_flow_actions_flow_id_flows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_actions")),
        sa.UniqueConstraint("flow_id", "position", name=op.f("uq_flow_actions_flow_id_position")),
    )
    op.create_table(
        "flow_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.Integer(), nullable=False),
        sa.Column("outbox_event_id", sa.Integer(), nullable=False),
        sa.Column("event_name", sa.String(length=64), nullable=False),
        sa.Column("is_test", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'done', 'failed')", name=op.f("ck_flow_runs_status")
        ),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name=op.f("fk_flow_runs_flow_id_flows"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["outbox_event_id"],
            ["outbox_events.id"],
            name=op.f("fk_flow_runs_outbox_event_id_outbox_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_runs")),
    )
    with op.batch_alter_table("flow_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flow_runs_flow_id"), ["flow_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_flow_runs_outbox_event_id"), ["outbox_event_id"], unique=False
        )
        batch_op.create_index(
            "uq_flow_runs_flow_id_outbox_event_id",
            ["flow_id", "outbox_event_id"],
            unique=True,
            sqlite_where=sa.text("NOT is_test"),
            postgresql_where=sa.text("NOT is_test"),
        )

    op.create_table(
        "action_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flow_run_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("rendered", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'retrying', 'done', 'failed')",
            name=op.f("ck_action_runs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["flow_run_id"],
            ["flow_runs.id"],
            name=op.f("fk_action_runs_flow_run_id_flow_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_runs")),
        sa.UniqueConstraint(
            "flow_run_id", "position", name=op.f("uq_action_runs_flow_run_id_position")
        ),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_action_runs_idempotency_key")),
    )
    _ready_made_flows()


def downgrade() -> None:
    op.drop_table("action_runs")
    with op.batch_alter_table("flow_runs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_flow_runs_flow_id_outbox_event_id",
            sqlite_where=sa.text("NOT is_test"),
            postgresql_where=sa.text("NOT is_test"),
        )
        batch_op.drop_index(batch_op.f("ix_flow_runs_outbox_event_id"))
        batch_op.drop_index(batch_op.f("ix_flow_runs_flow_id"))

    op.drop_table("flow_runs")
    op.drop_table("flow_actions")
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flows_trigger"))

    op.drop_table("flows")


# Shipped switched off; "Tell staff" needs the owner's address before it can be switched on.
READY_MADE: list[dict[str, Any]] = [
    {
        "name": "SMS receipt when a payment completes",
        "trigger": "payment_request.paid",
        "actions": [
            {
                "kind": "sms",
                "config": {
                    "to": "customer",
                    "text": "Thank you, {{ customer_name }}! We have received {{ amount }} for "
                    "invoice {{ invoice_numbers }}. Receipt: {{ receipt_link }}",
                },
            }
        ],
    },
    {
        "name": "Tell staff by email when a payment fails",
        "trigger": "payment_request.failed",
        "actions": [
            {
                "kind": "email",
                "config": {
                    "to": "",
                    "subject": "Payment failed: {{ reference }} ({{ customer_name }})",
                    "text": "The payment request {{ reference }} for {{ amount }} "
                    "(invoice {{ invoice_numbers }}) from {{ customer_name }} failed.\n"
                    "Please contact the customer or send a new request.",
                    "html": "",
                },
            }
        ],
    },
]


def _ready_made_flows() -> None:
    flows = sa.table(
        "flows",
        sa.column("id", sa.Integer()),
        sa.column("name", sa.String()),
        sa.column("trigger", sa.String()),
        sa.column("enabled", sa.Boolean()),
        sa.column("conditions", sa.JSON()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    actions = sa.table(
        "flow_actions",
        sa.column("flow_id", sa.Integer()),
        sa.column("position", sa.Integer()),
        sa.column("kind", sa.String()),
        sa.column("config", sa.JSON()),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        flows,
        [
            {
                "name": flow["name"],
                "trigger": flow["trigger"],
                "enabled": False,
                "conditions": {},
                "created_at": now,
                "updated_at": now,
            }
            for flow in READY_MADE
        ],
    )
    bind = op.get_bind()
    ids = {name: id_ for name, id_ in bind.execute(sa.select(flows.c.name, flows.c.id))}
    op.bulk_insert(
        actions,
        [
            {"flow_id": ids[flow["name"]], "position": i, **action}
            for flow in READY_MADE
            for i, action in enumerate(flow["actions"])
        ],
    )
