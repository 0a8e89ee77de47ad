"""Flows started by the calendar (issue 18): a flow's `timing` (a time trigger's days and rules,
automations.timing) and when it was last switched on (`enabled_at`); `schedule_marks`, one
row per (flow, invoice) whose step was reached, the key that makes each step go out once
whichever worker gets there. It belongs to an organisation; on PostgreSQL it gets the
row-level security policy of migration 0011.

An invoice's `reminders_paused` (staff: its steps wait). A customer's `reminders`: `on`, `paused` by staff (steps wait), or `opted_out` by the customer
(steps are marked skipped, `schedule_marks.skipped`, and nothing is sent).

A flow's action may now send a payment request or tell the staff by email (`flow_actions.kind`
'payment_request', 'notify_staff'), and a
request may be started by an automation (`payment_requests.origin` 'automation').

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The policy of migration 0011, unchanged.
POLICY = (
    "current_setting('payrequest.all_organisations', true) = 'on'"
    " OR organisation_id = nullif(current_setting('payrequest.organisation_id', true), '')::integer"
)


ACTION_KINDS = ("sms", "email", "webhook", "wait", "portal_link")
ORIGINS = ("staff", "portal", "bulk", "api")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _checks(action_kinds: Sequence[str], origins: Sequence[str]) -> None:
    with op.batch_alter_table("flow_actions") as batch:
        batch.drop_constraint(op.f("ck_flow_actions_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_flow_actions_kind"), _in("kind", action_kinds))
    with op.batch_alter_table("payment_requests") as batch:
        batch.drop_constraint(op.f("ck_payment_requests_origin"), type_="check")
        batch.create_check_constraint(op.f("ck_payment_requests_origin"), _in("origin", origins))


def upgrade() -> None:
    _checks((*ACTION_KINDS, "payment_request", "notify_staff"), (*ORIGINS, "automation"))
    with op.batch_alter_table("customers") as batch:
        batch.add_column(
            sa.Column("reminders", sa.String(length=16), nullable=False, server_default="on")
        )
        batch.create_check_constraint(
            op.f("ck_customers_reminders"), _in("reminders", ("on", "paused", "opted_out"))
        )
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(
            sa.Column("reminders_paused", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("flows") as batch:
        batch.add_column(sa.Column("timing", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "schedule_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("step_on", sa.Date(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("skipped", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"],
            ["flows.id"],
            name=op.f("fk_schedule_marks_flow_id_flows"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_schedule_marks_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_schedule_marks_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_marks")),
        sa.UniqueConstraint(
            "flow_id", "invoice_id", name=op.f("uq_schedule_marks_flow_id_invoice_id")
        ),
    )
    op.create_index(op.f("ix_schedule_marks_invoice_id"), "schedule_marks", ["invoice_id"])
    op.create_index(
        op.f("ix_schedule_marks_organisation_id"), "schedule_marks", ["organisation_id"]
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE schedule_marks ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE schedule_marks FORCE ROW LEVEL SECURITY")
        op.execute(
            "CREATE POLICY organisation_scope ON schedule_marks"
            f" USING ({POLICY}) WITH CHECK ({POLICY})"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS organisation_scope ON schedule_marks")
    op.drop_table("schedule_marks")
    with op.batch_alter_table("flows") as batch:
        batch.drop_column("enabled_at")
        batch.drop_column("timing")
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("reminders_paused")
    with op.batch_alter_table("customers") as batch:
        batch.drop_constraint(op.f("ck_customers_reminders"), type_="check")
        batch.drop_column("reminders")
    _checks(ACTION_KINDS, ORIGINS)
