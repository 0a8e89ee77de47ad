"""Flows started by the calendar (issue 18): a flow's `timing` (a time trigger's days and rules,
automations.timing) and when it was last switched on (`enabled_at`); `schedule_marks`, one
row per (flow, invoice or credit) whose step was reached, the key that makes each step go out once
whichever worker gets there; `staff_notices`, what a flow's "tell the staff" action leaves on
a customer's card until someone marks it done. Both belong to an organisation; on PostgreSQL
they get the row-level security policy of migration 0011.

An invoice's `reminders_paused` (staff: its steps wait). A customer's `reminders`: `on`,
`paused` by staff (steps wait), or `opted_out` by the customer (steps are marked skipped,
`schedule_marks.skipped`, and nothing is sent).

A flow's action may now send a payment request or tell the staff by email
(`flow_actions.kind` 'payment_request', 'notify_staff'), and a request may be started by an
automation (`payment_requests.origin` 'automation').

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
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("credit_id", sa.Integer(), nullable=True),
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
            ["credit_id"], ["credits.id"], name=op.f("fk_schedule_marks_credit_id_credits")
        ),
        sa.CheckConstraint(
            "(invoice_id IS NULL) <> (credit_id IS NULL)",
            name=op.f("ck_schedule_marks_one_subject"),
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
        sa.UniqueConstraint(
            "flow_id", "credit_id", name=op.f("uq_schedule_marks_flow_id_credit_id")
        ),
    )
    op.create_index(op.f("ix_schedule_marks_invoice_id"), "schedule_marks", ["invoice_id"])
    op.create_index(op.f("ix_schedule_marks_credit_id"), "schedule_marks", ["credit_id"])
    op.create_index(
        op.f("ix_schedule_marks_organisation_id"), "schedule_marks", ["organisation_id"]
    )
    op.create_table(
        "staff_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("flow_run_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_staff_notices_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["flow_run_id"],
            ["flow_runs.id"],
            name=op.f("fk_staff_notices_flow_run_id_flow_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_staff_notices_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_notices")),
    )
    op.create_index(op.f("ix_staff_notices_customer_id"), "staff_notices", ["customer_id"])
    op.create_index(op.f("ix_staff_notices_organisation_id"), "staff_notices", ["organisation_id"])
    if op.get_bind().dialect.name == "postgresql":
        for table in ("schedule_marks", "staff_notices"):
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY organisation_scope ON {table}"
                f" USING ({POLICY}) WITH CHECK ({POLICY})"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("schedule_marks", "staff_notices"):
            op.execute(f"DROP POLICY IF EXISTS organisation_scope ON {table}")
    op.drop_table("staff_notices")
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
