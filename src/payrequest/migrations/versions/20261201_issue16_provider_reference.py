"""Each payment request keeps the provider's own key of its payment, and its provider state
in the neutral vocabulary.

- `payment_requests.provider_reference`: what the provider calls the payment (Vipps: our
  reference; Stripe: its Checkout Session id), set when the provider accepted the payment and
  unique per provider. Requests sent before this revision were all Vipps MobilePay's, keyed by
  our reference: they get it here.
- `payment_requests.provider_state` held Vipps' spelling (`AUTHORIZED`); it now holds the
  neutral state of providers/base.py (`authorized`).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payment_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_reference", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(
            "uq_payment_requests_provider_provider_reference", ["provider", "provider_reference"]
        )
    op.execute(
        "UPDATE payment_requests SET provider_reference = reference"
        " WHERE provider = 'vipps' AND status <> 'sending'"
    )
    op.execute(
        "UPDATE payment_requests SET provider_state = lower(provider_state)"
        " WHERE provider_state IS NOT NULL"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE payment_requests SET provider_state = upper(provider_state)"
        " WHERE provider_state IS NOT NULL"
    )
    with op.batch_alter_table("payment_requests", schema=None) as batch_op:
        batch_op.drop_constraint("uq_payment_requests_provider_provider_reference", type_="unique")
        batch_op.drop_column("provider_reference")
