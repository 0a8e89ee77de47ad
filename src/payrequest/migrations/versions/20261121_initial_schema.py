"""Initial schema: users, customers, invoices, payment requests, ledger, inbox, outbox, jobs.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 20:12:36.885072
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("locale", sa.String(length=5), nullable=False),
        sa.Column("portal_access", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "country IN ('NO', 'DK', 'FI', 'SE')", name=op.f("ck_customers_country")
        ),
        sa.CheckConstraint(
            "phone IS NULL OR phone LIKE '+%'", name=op.f("ck_customers_phone_e164")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("number", name=op.f("uq_customers_number")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customers_name"), ["name"], unique=False)

    op.create_table(
        "inbound_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("dedupe_key", sa.String(length=255), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("event_name", sa.String(length=64), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('received', 'applied', 'unmatched', 'failed')",
            name=op.f("ck_inbound_events_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_events")),
        sa.UniqueConstraint(
            "provider", "dedupe_key", name=op.f("uq_inbound_events_provider_dedupe_key")
        ),
    )
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbound_events_reference"), ["reference"], unique=False
        )
        batch_op.create_index(
            "ix_inbound_events_status_received_at", ["status", "received_at"], unique=False
        )

    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_by", sa.String(length=64), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'dead')", name=op.f("ck_jobs_status")
        ),
        sa.CheckConstraint("attempts >= 0 AND max_attempts > 0", name=op.f("ck_jobs_attempts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_jobs_dedupe_key")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_status_run_at", ["status", "run_at"], unique=False)

    op.create_table(
        "outbox_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("aggregate_type", sa.String(length=32), nullable=False),
        sa.Column("aggregate_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
    )
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_events_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            "ix_outbox_events_dispatched_at_id", ["dispatched_at", "id"], unique=False
        )

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("locale", sa.String(length=5), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("locale IN ('nb', 'da', 'en')", name=op.f("ck_users_locale")),
        sa.CheckConstraint("role IN ('owner', 'staff', 'readonly')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "webhook_registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_registrations")),
        sa.UniqueConstraint("external_id", name=op.f("uq_webhook_registrations_external_id")),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "currency IN ('NOK', 'DKK', 'EUR', 'SEK')", name=op.f("ck_invoices_currency")
        ),
        sa.CheckConstraint("due_date >= issue_date", name=op.f("ck_invoices_due_after_issue")),
        sa.CheckConstraint("total >= 0", name=op.f("ck_invoices_total_not_negative")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_invoices_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("id", "currency", name="uq_invoices_id_currency"),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoices_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_invoices_due_date"), ["due_date"], unique=False)

    op.create_table(
        "payment_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("user_flow", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("retry_of_id", sa.Integer(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("captured_amount", sa.BigInteger(), nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), nullable=False),
        sa.Column("provider_state", sa.String(length=32), nullable=True),
        sa.Column("redirect_url", sa.Text(), nullable=True),
        sa.Column("failure_code", sa.String(length=32), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("poll_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "origin IN ('staff', 'portal', 'bulk', 'api')", name=op.f("ck_payment_requests_origin")
        ),
        sa.CheckConstraint(
            "status IN ('sending', 'pending', 'authorized', 'paid', 'refunded', 'failed', 'rejected', 'expired', 'cancelled')",
            name=op.f("ck_payment_requests_status"),
        ),
        sa.CheckConstraint(
            "user_flow IN ('push', 'qr', 'redirect')", name=op.f("ck_payment_requests_user_flow")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payment_requests_amount_positive")),
        sa.CheckConstraint("attempt >= 0", name=op.f("ck_payment_requests_attempt_not_negative")),
        sa.CheckConstraint(
            "captured_amount >= 0 AND refunded_amount >= 0 AND refunded_amount <= captured_amount",
            name=op.f("ck_payment_requests_aggregate_amounts"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_payment_requests_created_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_payment_requests_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["retry_of_id"],
            ["payment_requests.id"],
            name=op.f("fk_payment_requests_retry_of_id_payment_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_requests")),
        sa.UniqueConstraint("id", "currency", name="uq_payment_requests_id_currency"),
        sa.UniqueConstraint("reference", name=op.f("uq_payment_requests_reference")),
    )
    with op.batch_alter_table("payment_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_requests_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            "ix_payment_requests_status_next_poll_at", ["status", "next_poll_at"], unique=False
        )

    op.create_table(
        "credits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("payment_request_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credits_amount_positive")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_credits_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["payment_request_id"],
            ["payment_requests.id"],
            name=op.f("fk_credits_payment_request_id_payment_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credits")),
        sa.UniqueConstraint("payment_request_id", name=op.f("uq_credits_payment_request_id")),
    )
    with op.batch_alter_table("credits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credits_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("quantity_milli", sa.BigInteger(), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("vat_rate_bp", sa.Integer(), nullable=False),
        sa.Column("net_amount", sa.BigInteger(), nullable=False),
        sa.Column("vat_amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "net_amount >= 0 AND vat_amount >= 0",
            name=op.f("ck_invoice_lines_amounts_not_negative"),
        ),
        sa.CheckConstraint("quantity_milli > 0", name=op.f("ck_invoice_lines_quantity_positive")),
        sa.CheckConstraint(
            "unit_price >= 0", name=op.f("ck_invoice_lines_unit_price_not_negative")
        ),
        sa.CheckConstraint(
            "vat_rate_bp BETWEEN 0 AND 10000", name=op.f("ck_invoice_lines_vat_rate_range")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_lines_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
        sa.UniqueConstraint(
            "invoice_id", "position", name=op.f("uq_invoice_lines_invoice_id_position")
        ),
    )
    op.create_table(
        "payment_request_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_request_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("provider_event", sa.String(length=64), nullable=True),
        sa.Column("provider_ref", sa.String(length=64), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_request_id"],
            ["payment_requests.id"],
            name=op.f("fk_payment_request_events_payment_request_id_payment_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_request_events")),
        sa.UniqueConstraint(
            "payment_request_id",
            "provider_event",
            "provider_ref",
            name=op.f("uq_payment_request_events_payment_request_id_provider_event_provider_ref"),
        ),
    )
    with op.batch_alter_table("payment_request_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_request_events_payment_request_id"),
            ["payment_request_id"],
            unique=False,
        )

    op.create_table(
        "payment_request_invoices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_request_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("planned_amount", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "planned_amount > 0", name=op.f("ck_payment_request_invoices_planned_amount_positive")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id", "currency"],
            ["invoices.id", "invoices.currency"],
            name=op.f("fk_payment_request_invoices_invoice_id_currency_invoices"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_request_id", "currency"],
            ["payment_requests.id", "payment_requests.currency"],
            name=op.f("fk_payment_request_invoices_payment_request_id_currency_payment_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_request_invoices")),
        sa.UniqueConstraint(
            "payment_request_id",
            "invoice_id",
            name=op.f("uq_payment_request_invoices_payment_request_id_invoice_id"),
        ),
    )
    with op.batch_alter_table("payment_request_invoices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_request_invoices_invoice_id"), ["invoice_id"], unique=False
        )
        batch_op.create_index(
            "uq_payment_request_invoices_one_active_per_invoice",
            ["invoice_id"],
            unique=True,
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        )

    op.create_table(
        "refunds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_request_id", sa.Integer(), nullable=False),
        sa.Column("credit_id", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("credit_amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=50), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')", name=op.f("ck_refunds_status")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_refunds_amount_positive")),
        sa.CheckConstraint(
            "credit_amount >= 0 AND credit_amount <= amount", name=op.f("ck_refunds_credit_part")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"], ["users.id"], name=op.f("fk_refunds_created_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["credit_id"], ["credits.id"], name=op.f("fk_refunds_credit_id_credits")
        ),
        sa.ForeignKeyConstraint(
            ["payment_request_id"],
            ["payment_requests.id"],
            name=op.f("fk_refunds_payment_request_id_payment_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_refunds_idempotency_key")),
    )
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_refunds_payment_request_id"), ["payment_request_id"], unique=False
        )

    op.create_table(
        "allocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("payment_request_id", sa.Integer(), nullable=True),
        sa.Column("credit_id", sa.Integer(), nullable=True),
        sa.Column("refund_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(payment_request_id IS NULL) <> (credit_id IS NULL)",
            name=op.f("ck_allocations_exactly_one_source"),
        ),
        sa.CheckConstraint(
            "(refund_id IS NULL AND amount > 0) OR (refund_id IS NOT NULL AND amount < 0)",
            name=op.f("ck_allocations_sign_matches_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["credit_id"], ["credits.id"], name=op.f("fk_allocations_credit_id_credits")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id", "currency"],
            ["invoices.id", "invoices.currency"],
            name=op.f("fk_allocations_invoice_id_currency_invoices"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_request_id"],
            ["payment_requests.id"],
            name=op.f("fk_allocations_payment_request_id_payment_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refunds.id"], name=op.f("fk_allocations_refund_id_refunds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
        sa.UniqueConstraint(
            "refund_id", "invoice_id", name=op.f("uq_allocations_refund_id_invoice_id")
        ),
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_allocations_credit_id"), ["credit_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_allocations_invoice_id"), ["invoice_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_allocations_payment_request_id"), ["payment_request_id"], unique=False
        )
        batch_op.create_index(
            "uq_allocations_one_per_request_invoice",
            ["payment_request_id", "invoice_id"],
            unique=True,
            sqlite_where=sa.text("refund_id IS NULL"),
            postgresql_where=sa.text("refund_id IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_allocations_one_per_request_invoice",
            sqlite_where=sa.text("refund_id IS NULL"),
            postgresql_where=sa.text("refund_id IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_allocations_payment_request_id"))
        batch_op.drop_index(batch_op.f("ix_allocations_invoice_id"))
        batch_op.drop_index(batch_op.f("ix_allocations_credit_id"))

    op.drop_table("allocations")
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refunds_payment_request_id"))

    op.drop_table("refunds")
    with op.batch_alter_table("payment_request_invoices", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_payment_request_invoices_one_active_per_invoice",
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        )
        batch_op.drop_index(batch_op.f("ix_payment_request_invoices_invoice_id"))

    op.drop_table("payment_request_invoices")
    with op.batch_alter_table("payment_request_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_request_events_payment_request_id"))

    op.drop_table("payment_request_events")
    op.drop_table("invoice_lines")
    with op.batch_alter_table("credits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credits_customer_id"))

    op.drop_table("credits")
    with op.batch_alter_table("payment_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_requests_status_next_poll_at")
        batch_op.drop_index(batch_op.f("ix_payment_requests_customer_id"))

    op.drop_table("payment_requests")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoices_due_date"))
        batch_op.drop_index(batch_op.f("ix_invoices_customer_id"))

    op.drop_table("invoices")
    op.drop_table("webhook_registrations")
    op.drop_table("users")
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_events_dispatched_at_id")
        batch_op.drop_index(batch_op.f("ix_outbox_events_customer_id"))

    op.drop_table("outbox_events")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_status_run_at")

    op.drop_table("jobs")
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_events_status_received_at")
        batch_op.drop_index(batch_op.f("ix_inbound_events_reference"))

    op.drop_table("inbound_events")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_name"))

    op.drop_table("customers")
