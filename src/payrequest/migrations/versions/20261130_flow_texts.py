"""The ready-made flows speak Norwegian and Danish too: their message texts get `nb` and `da`
variants next to the English ones (`language: "en"`), so the SMS receipt reaches each customer
in their language. A flow whose action staff have changed since 0004 is left as it is.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 22:00:00
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECEIPT = "SMS receipt when a payment completes"
STAFF_ALERT = "Tell staff by email when a payment fails"

Key = tuple[str, str, str]  # (flow name, trigger, action kind)
Config = Callable[[Key], dict[str, Any]]

# The action's config as 0004 inserted it.
AS_INSERTED: dict[Key, dict[str, Any]] = {
    (RECEIPT, "payment_request.paid", "sms"): {
        "to": "customer",
        "text": "Thank you, {{ customer_name }}! We have received {{ amount }} for "
        "invoice {{ invoice_numbers }}. Receipt: {{ receipt_link }}",
    },
    (STAFF_ALERT, "payment_request.failed", "email"): {
        "to": "",
        "subject": "Payment failed: {{ reference }} ({{ customer_name }})",
        "text": "The payment request {{ reference }} for {{ amount }} "
        "(invoice {{ invoice_numbers }}) from {{ customer_name }} failed.\n"
        "Please contact the customer or send a new request.",
        "html": "",
    },
}

VARIANTS: dict[str, dict[str, dict[str, str]]] = {
    RECEIPT: {
        "nb": {
            "text": "Takk, {{ customer_name }}! Vi har mottatt {{ amount }} for faktura "
            "{{ invoice_numbers }}. Kvittering: {{ receipt_link }}",
        },
        "da": {
            "text": "Tak, {{ customer_name }}! Vi har modtaget {{ amount }} for faktura "
            "{{ invoice_numbers }}. Kvittering: {{ receipt_link }}",
        },
    },
    STAFF_ALERT: {
        "nb": {
            "subject": "Betaling mislyktes: {{ reference }} ({{ customer_name }})",
            "text": "Betalingsforespørselen {{ reference }} på {{ amount }} "
            "(faktura {{ invoice_numbers }}) til {{ customer_name }} mislyktes.\n"
            "Kontakt kunden eller send en ny forespørsel.",
            "html": "",
        },
        "da": {
            "subject": "Betaling mislykkedes: {{ reference }} ({{ customer_name }})",
            "text": "Betalingsanmodningen {{ reference }} på {{ amount }} "
            "(faktura {{ invoice_numbers }}) til {{ customer_name }} mislykkedes.\n"
            "Kontakt kunden, eller send en ny anmodning.",
            "html": "",
        },
    },
}

_flows = sa.table(
    "flows",
    sa.column("id", sa.Integer()),
    sa.column("name", sa.String()),
    sa.column("trigger", sa.String()),
)
_actions = sa.table(
    "flow_actions",
    sa.column("id", sa.Integer()),
    sa.column("flow_id", sa.Integer()),
    sa.column("position", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("config", sa.JSON()),
)


def with_variants(name: str, config: dict[str, Any]) -> dict[str, Any]:
    return {**config, "language": "en", "variants": VARIANTS[name]}


def _replace(old_of: Config, new_of: Config) -> None:
    """For each ready-made flow that still has its one action with config `old_of(key)`,
    store `new_of(key)` instead."""
    bind = op.get_bind()
    for key in AS_INSERTED:
        name, trigger, kind = key
        rows = bind.execute(
            sa.select(_actions.c.id, _actions.c.position, _actions.c.kind, _actions.c.config)
            .join(_flows, _flows.c.id == _actions.c.flow_id)
            .where(_flows.c.name == name, _flows.c.trigger == trigger)
        ).all()
        if len(rows) != 1:
            continue
        action_id, position, stored_kind, config = rows[0]
        if position != 0 or stored_kind != kind or config != old_of(key):
            continue
        bind.execute(
            sa.update(_actions).where(_actions.c.id == action_id).values(config=new_of(key))
        )


def upgrade() -> None:
    _replace(AS_INSERTED.__getitem__, lambda key: with_variants(key[0], AS_INSERTED[key]))


def downgrade() -> None:
    _replace(lambda key: with_variants(key[0], AS_INSERTED[key]), AS_INSERTED.__getitem__)
