"""Manual payments, credit that can be voided, reversal allocations, phone sharing, and a
folded search text for customers.

- `manual_payments`: money received outside the provider, allocated like a payment.
- `allocations.manual_payment_id` as a third source, and `reversal` for negative rows (a
  refund's, now flagged; an undone manual payment's).
- `credits.manual_payment_id` (an overpayment of a manual payment) and `voided_at`.
- `payment_requests.share_phone/save_phone/payer_phone`; `customers.suggested_phone(_request_id)`.
- `customers.search_text`, filled here for existing rows (the same folding as kit/search.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 20:36:24.820982
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_SIGN = "(refund_id IS NULL AND amount > 0) OR (refund_id IS NOT NULL AND amount < 0)"
NEW_SIGN = "(reversal AND amount < 0) OR (NOT reversal AND amount > 0 AND refund_id IS NULL)"
OLD_SOURCE = "(payment_request_id IS NULL) <> (credit_id IS NULL)"
NEW_SOURCE = (
    "(CASE WHEN payment_request_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN credit_id IS NULL THEN 0 ELSE 1 END"
    " + CASE WHEN manual_payment_id IS NULL THEN 0 ELSE 1 END) = 1"
)


def upgrade() -> None:
    op.create_table(
        "manual_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by_user_id", sa.Integer(), nullable=True),
        sa.Column("undo_reason", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "method IN ('bank_transfer', 'cash', 'card', 'other')",
            name=op.f("ck_manual_payments_method"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_manual_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_manual_payments_created_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_manual_payments_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["undone_by_user_id"],
            ["users.id"],
            name=op.f("fk_manual_payments_undone_by_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manual_payments")),
    )
    with op.batch_alter_table("manual_payments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_manual_payments_customer_id"), ["customer_id"], unique=False
        )

    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("manual_payment_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("reversal", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_allocations_manual_payment_id"), ["manual_payment_id"], unique=False
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_allocations_manual_payment_id_invoice_id_reversal"),
            ["manual_payment_id", "invoice_id", "reversal"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_allocations_manual_payment_id_manual_payments"),
            "manual_payments",
            ["manual_payment_id"],
            ["id"],
        )
        batch_op.drop_constraint(batch_op.f("ck_allocations_sign_matches_kind"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_allocations_exactly_one_source"), type_="check")
    allocations = sa.table(
        "allocations", sa.column("refund_id", sa.Integer()), sa.column("reversal", sa.Boolean())
    )
    op.execute(
        allocations.update().where(allocations.c.refund_id.is_not(None)).values(reversal=sa.true())
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_check_constraint("sign_matches_kind", sa.text(NEW_SIGN))
        batch_op.create_check_constraint("exactly_one_source", sa.text(NEW_SOURCE))

    with op.batch_alter_table("credits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("manual_payment_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_credits_manual_payment_id"), ["manual_payment_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_credits_manual_payment_id_manual_payments"),
            "manual_payments",
            ["manual_payment_id"],
            ["id"],
        )

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("search_text", sa.String(length=600), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("suggested_phone", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("suggested_phone_request_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_customers_suggested_phone_request_id_payment_requests"),
            "payment_requests",
            ["suggested_phone_request_id"],
            ["id"],
        )
    _fill_search_text()

    with op.batch_alter_table("payment_requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("share_phone", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("save_phone", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("payer_phone", sa.String(length=16), nullable=True))


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _fill_search_text() -> None:
    """The same text customers.models keeps for written rows (kit/search.py, as of this day)."""
    customers = sa.table(
        "customers",
        sa.column("id", sa.Integer()),
        sa.column("name", sa.String()),
        sa.column("number", sa.String()),
        sa.column("email", sa.String()),
        sa.column("phone", sa.String()),
        sa.column("search_text", sa.String()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            customers.c.id,
            customers.c.name,
            customers.c.number,
            customers.c.email,
            customers.c.phone,
        )
    ).all()
    for id_, name, number, email, phone in rows:
        texts = [part for part in (name, number, email, phone) if part]
        digits = ["".join(ch for ch in t if ch.isdigit()) for t in texts if t.startswith("+")]
        text = " ".join(_fold(t) for t in [*texts, *digits] if t)
        bind.execute(customers.update().where(customers.c.id == id_).values(search_text=text[:600]))


def downgrade() -> None:
    with op.batch_alter_table("payment_requests", schema=None) as batch_op:
        batch_op.drop_column("payer_phone")
        batch_op.drop_column("save_phone")
        batch_op.drop_column("share_phone")

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_customers_suggested_phone_request_id_payment_requests"),
            type_="foreignkey",
        )
        batch_op.drop_column("suggested_phone_request_id")
        batch_op.drop_column("suggested_phone")
        batch_op.drop_column("search_text")

    with op.batch_alter_table("credits", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_credits_manual_payment_id_manual_payments"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_credits_manual_payment_id"), type_="unique")
        batch_op.drop_column("voided_at")
        batch_op.drop_column("manual_payment_id")

    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_allocations_sign_matches_kind"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_allocations_exactly_one_source"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_allocations_manual_payment_id_manual_payments"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("uq_allocations_manual_payment_id_invoice_id_reversal"), type_="unique"
        )
        batch_op.drop_index(batch_op.f("ix_allocations_manual_payment_id"))
        batch_op.drop_column("reversal")
        batch_op.drop_column("manual_payment_id")
        batch_op.create_check_constraint("sign_matches_kind", sa.text(OLD_SIGN))
        batch_op.create_check_constraint("exactly_one_source", sa.text(OLD_SOURCE))

    with op.batch_alter_table("manual_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_manual_payments_customer_id"))

    op.drop_table("manual_payments")
