"""Big tables (issue 19, P10/P9b): what the staff pages read stays on an index at millions of
rows, and an invoice's paid amount is a maintained figure.

- `invoices.allocated`: the sum of the invoice's allocations (reversals are negative rows),
  kept by triggers on `allocations` in the statement that changes them, so in the same
  transaction whoever writes them (the ORM, bulk Core statements, a future batch applier).
  Back-filled here from the rows.
- Partial indexes over a customer's open and settled invoices (the card, balances, reminders),
  and (organisation, order) indexes for the invoice and request lists, whose rows are one
  organisation's among many.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "voided_at IS NULL AND total > allocated"
SETTLED = "voided_at IS NOT NULL OR total <= allocated"

PG_FUNCTION = """
CREATE FUNCTION invoices_follow_allocations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE invoices SET allocated = allocated - OLD.amount WHERE id = OLD.invoice_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE invoices SET allocated = allocated + NEW.amount WHERE id = NEW.invoice_id;
    END IF;
    RETURN NULL;
END
$$
"""
PG_TRIGGER = """
CREATE TRIGGER allocations_keep_invoice_allocated
AFTER INSERT OR DELETE OR UPDATE OF amount, invoice_id ON allocations
FOR EACH ROW EXECUTE FUNCTION invoices_follow_allocations()
"""
SQLITE_TRIGGERS = {
    "allocations_keep_invoice_allocated_insert": (
        "AFTER INSERT ON allocations BEGIN "
        "UPDATE invoices SET allocated = allocated + NEW.amount WHERE id = NEW.invoice_id; END"
    ),
    "allocations_keep_invoice_allocated_delete": (
        "AFTER DELETE ON allocations BEGIN "
        "UPDATE invoices SET allocated = allocated - OLD.amount WHERE id = OLD.invoice_id; END"
    ),
    "allocations_keep_invoice_allocated_update": (
        "AFTER UPDATE OF amount, invoice_id ON allocations BEGIN "
        "UPDATE invoices SET allocated = allocated - OLD.amount WHERE id = OLD.invoice_id; "
        "UPDATE invoices SET allocated = allocated + NEW.amount WHERE id = NEW.invoice_id; END"
    ),
}
# (name, table, columns, partial condition or None)
INDEXES = (
    ("ix_invoices_customer_open", "invoices", ["customer_id", "due_date", "id"], OPEN),
    ("ix_invoices_customer_settled", "invoices", ["customer_id", "due_date", "id"], SETTLED),
    ("ix_invoices_customer_currency", "invoices", ["customer_id", "currency"], "voided_at IS NULL"),
    ("ix_invoices_organisation_issued", "invoices", ["organisation_id", "issue_date", "id"], None),
    ("ix_invoices_organisation_open", "invoices", ["organisation_id", "issue_date", "id"], OPEN),
    ("ix_payment_requests_organisation_id_id", "payment_requests", ["organisation_id", "id"], None),
    (
        "ix_payment_requests_organisation_status_id",
        "payment_requests",
        ["organisation_id", "status", "id"],
        None,
    ),
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(
            sa.Column("allocated", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.execute(
        "UPDATE invoices SET allocated = (SELECT coalesce(sum(a.amount), 0) FROM allocations a "
        "WHERE a.invoice_id = invoices.id) "
        "WHERE EXISTS (SELECT 1 FROM allocations a WHERE a.invoice_id = invoices.id)"
    )
    if sqlite:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    else:
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    for name, table, columns, where in INDEXES:
        condition = sa.text(where) if where else None
        op.create_index(name, table, columns, sqlite_where=condition, postgresql_where=condition)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, table, _columns, _where in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    if sqlite:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    else:
        op.execute("DROP TRIGGER allocations_keep_invoice_allocated ON allocations")
        op.execute("DROP FUNCTION invoices_follow_allocations()")
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("allocated")
