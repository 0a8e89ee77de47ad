"""Allocation rows say what they take back and who wrote them.

- `allocations.reverses_allocation_id` (FK allocations.id, UNIQUE): the row a reversal takes
  back (a credit application's or a manual payment allocation's), so a row is taken back at
  most once; only a reversal that is not a refund's may name one (CHECK).
- `allocations.created_by_user_id` (FK users.id): who applied credit, or took it back.
- `allocations.note` (at most 200 characters): why a credit application was taken back.

Existing rows are carried over: an undone manual payment's reversals name its allocation on
the same invoice (there is one). Take-backs and who applied credit were only written down in
the `credit.taken_back` and `credit.applied` events so far; what those events say is copied
onto the rows they name, where the rows agree (a reversal of the same credit and invoice, an
application taken back once, a user that exists). The events themselves stay as they are.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 23:00:00
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TAKES_BACK = "reverses_allocation_id IS NULL OR (reversal AND refund_id IS NULL)"
NOTE_MAX = 200

_allocations = sa.table(
    "allocations",
    sa.column("id", sa.Integer()),
    sa.column("invoice_id", sa.Integer()),
    sa.column("credit_id", sa.Integer()),
    sa.column("manual_payment_id", sa.Integer()),
    sa.column("reversal", sa.Boolean()),
    sa.column("reverses_allocation_id", sa.Integer()),
    sa.column("created_by_user_id", sa.Integer()),
    sa.column("note", sa.String()),
)
_events = sa.table(
    "outbox_events",
    sa.column("id", sa.Integer()),
    sa.column("name", sa.String()),
    sa.column("payload", sa.JSON()),
)
_users = sa.table("users", sa.column("id", sa.Integer()))


def upgrade() -> None:
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reverses_allocation_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("created_by_user_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("note", sa.String(length=NOTE_MAX), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_allocations_reverses_allocation_id"), ["reverses_allocation_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_allocations_reverses_allocation_id_allocations"),
            "allocations",
            ["reverses_allocation_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_allocations_created_by_user_id_users"),
            "users",
            ["created_by_user_id"],
            ["id"],
        )
        batch_op.create_check_constraint("takes_back_as_reversal", sa.text(TAKES_BACK))
    bind = op.get_bind()
    _link_manual_reversals(bind)
    _copy_credit_events(bind)


def _link_manual_reversals(bind: Connection) -> None:
    given = _allocations.alias("given")
    reversed_row = (
        sa.select(given.c.id)
        .where(
            given.c.manual_payment_id == _allocations.c.manual_payment_id,
            given.c.invoice_id == _allocations.c.invoice_id,
            given.c.reversal.is_(sa.false()),
        )
        .scalar_subquery()
    )
    bind.execute(
        _allocations.update()
        .where(
            _allocations.c.manual_payment_id.is_not(None),
            _allocations.c.reversal.is_(sa.true()),
        )
        .values(reverses_allocation_id=reversed_row)
    )


@dataclass(frozen=True, slots=True)
class _Row:
    credit_id: int
    invoice_id: int
    reversal: bool


def _copy_credit_events(bind: Connection) -> None:
    """What `credit.applied` (`allocations`, `by`) and `credit.taken_back` (`allocation`,
    `reversal`, `reason`, `by`) say, onto the allocation rows; oldest event first."""
    rows = {
        id_: _Row(credit_id, invoice_id, bool(reversal))
        for id_, credit_id, invoice_id, reversal in bind.execute(
            sa.select(
                _allocations.c.id,
                _allocations.c.credit_id,
                _allocations.c.invoice_id,
                _allocations.c.reversal,
            ).where(_allocations.c.credit_id.is_not(None))
        )
    }
    users = set(bind.execute(sa.select(_users.c.id)).scalars())
    events = bind.execute(
        sa.select(_events.c.name, _events.c.payload)
        .where(_events.c.name.in_(("credit.applied", "credit.taken_back")))
        .order_by(_events.c.id)
    )
    linked: set[int] = set()  # applications taken back, reversals that name one
    for name, raw in events:
        payload = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
        by = _int(payload.get("by"))
        by = by if by in users else None
        if name == "credit.applied":
            for applied in filter(None, map(_int, payload.get("allocations") or ())):
                row = rows.get(applied)
                if row is not None and not row.reversal and by is not None:
                    _set(bind, applied, created_by_user_id=by)
        else:
            _link(bind, rows, linked, payload, by)


def _link(
    bind: Connection,
    rows: dict[int, _Row],
    linked: set[int],
    payload: dict[str, Any],
    by: int | None,
) -> None:
    """One `credit.taken_back`: its reversal row names the application, if the rows agree."""
    application, reversal = _int(payload.get("allocation")), _int(payload.get("reversal"))
    if application is None or reversal is None or {application, reversal} & linked:
        return
    taken, back = rows.get(application), rows.get(reversal)
    if taken is None or back is None or taken.reversal or not back.reversal:
        return
    if (taken.credit_id, taken.invoice_id) != (back.credit_id, back.invoice_id):
        return
    note = str(payload.get("reason") or "").strip()[:NOTE_MAX] or None
    _set(bind, reversal, reverses_allocation_id=application, created_by_user_id=by, note=note)
    linked |= {application, reversal}


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _set(bind: Connection, allocation_id: int, **values: Any) -> None:
    bind.execute(_allocations.update().where(_allocations.c.id == allocation_id).values(**values))


def downgrade() -> None:
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_allocations_takes_back_as_reversal"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_allocations_created_by_user_id_users"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_allocations_reverses_allocation_id_allocations"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("uq_allocations_reverses_allocation_id"), type_="unique"
        )
        batch_op.drop_column("note")
        batch_op.drop_column("created_by_user_id")
        batch_op.drop_column("reverses_allocation_id")
