"""A provider connection keeps any provider's account, not only a Vipps MobilePay sales unit.

`provider_connections` had one column per Vipps MobilePay field (market, merchant serial
number, client id, sealed client secret and subscription key). It now keeps what every
provider has: `account` (the provider's public name of the account: here the merchant serial
number), `details` (what else is not secret: here the market and the client id) and `sealed`
(each secret sealed on its own: the sealed values move as they are, nothing is opened).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 10:30:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = sa.table(
    "provider_connections",
    sa.column("id", sa.Integer()),
    sa.column("market", sa.String()),
    sa.column("merchant_serial_number", sa.String()),
    sa.column("client_id", sa.String()),
    sa.column("client_secret_encrypted", sa.Text()),
    sa.column("subscription_key_encrypted", sa.Text()),
)
NEW = sa.table(
    "provider_connections",
    sa.column("id", sa.Integer()),
    sa.column("account", sa.String()),
    sa.column("details", sa.JSON()),
    sa.column("sealed", sa.JSON()),
)


def upgrade() -> None:
    with op.batch_alter_table("provider_connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("sealed", sa.JSON(), nullable=True))
    bind = op.get_bind()
    for row in bind.execute(sa.select(OLD)).mappings().all():
        details: dict[str, Any] = {"market": row["market"]}
        sealed: dict[str, Any] = {}
        if row["client_id"] is not None:
            details["client_id"] = row["client_id"]
            sealed = {
                "client_secret": row["client_secret_encrypted"],
                "subscription_key": row["subscription_key_encrypted"],
            }
        bind.execute(
            sa.update(NEW)
            .where(NEW.c.id == row["id"])
            .values(account=row["merchant_serial_number"], details=details, sealed=sealed)
        )
    with op.batch_alter_table("provider_connections", schema=None) as batch_op:
        batch_op.alter_column("account", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("details", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column("sealed", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_constraint(op.f("ck_provider_connections_market"), type_="check")
        for column in (
            "market",
            "merchant_serial_number",
            "client_id",
            "client_secret_encrypted",
            "subscription_key_encrypted",
        ):
            batch_op.drop_column(column)


def downgrade() -> None:
    with op.batch_alter_table("provider_connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("market", sa.String(length=2), nullable=True))
        batch_op.add_column(
            sa.Column("merchant_serial_number", sa.String(length=10), nullable=True)
        )
        batch_op.add_column(sa.Column("client_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("client_secret_encrypted", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("subscription_key_encrypted", sa.Text(), nullable=True))
    bind = op.get_bind()
    # Only Vipps MobilePay's connections fit the old columns; any other goes.
    bind.execute(sa.text("DELETE FROM provider_connections WHERE provider <> 'vipps'"))
    for row in bind.execute(sa.select(NEW)).mappings().all():
        details, sealed = row["details"] or {}, row["sealed"] or {}
        bind.execute(
            sa.update(OLD)
            .where(OLD.c.id == row["id"])
            .values(
                market=details.get("market", "NO"),
                merchant_serial_number=row["account"],
                client_id=details.get("client_id"),
                client_secret_encrypted=sealed.get("client_secret"),
                subscription_key_encrypted=sealed.get("subscription_key"),
            )
        )
    with op.batch_alter_table("provider_connections", schema=None) as batch_op:
        batch_op.alter_column("market", existing_type=sa.String(length=2), nullable=False)
        batch_op.alter_column(
            "merchant_serial_number", existing_type=sa.String(length=10), nullable=False
        )
        batch_op.create_check_constraint(
            op.f("ck_provider_connections_market"), "market IN ('NO', 'DK', 'FI')"
        )
        batch_op.drop_column("sealed")
        batch_op.drop_column("details")
        batch_op.drop_column("account")
