"""Job kinds spelt one way, `<package>.<verb>`: queued and finished jobs take the new names,
and so do periodic jobs' dedupe keys (`periodic:<kind>:<slot>`), the only keys that hold a kind.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# old kind -> new kind; automations.dispatch, inbound.apply and jobs.purge keep their names
RENAMED = {
    "payment_request.send": "payment_requests.send",
    "payment_request.capture": "payment_requests.capture",
    "payment_request.poll": "payment_requests.poll",
    "refund.send": "payment_requests.refund",
    "automations.action": "automations.run_action",
}

_jobs = sa.table("jobs", sa.column("kind", sa.String), sa.column("dedupe_key", sa.String))


def _rename(renames: dict[str, str]) -> None:
    for old, new in renames.items():
        op.execute(_jobs.update().where(_jobs.c.kind == old).values(kind=new))
        before, after = f"periodic:{old}:", f"periodic:{new}:"
        slot = sa.func.substr(_jobs.c.dedupe_key, len(before) + 1)  # what follows the prefix
        op.execute(
            _jobs.update()
            .where(sa.func.substr(_jobs.c.dedupe_key, 1, len(before)) == before)
            .values(dedupe_key=sa.literal(after, sa.String) + slot)
        )


def upgrade() -> None:
    _rename(RENAMED)


def downgrade() -> None:
    _rename({new: old for old, new in RENAMED.items()})
