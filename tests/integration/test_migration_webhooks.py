"""Migration 0015 on both kinds of database: the webhook tables and the outbox consumers'
bookkeeping come, the webhooks' consumer starts at the newest outbox event there is (nothing
already in the outbox is published after the fact), and a downgrade takes them away."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from payrequest.db.session import create_engine
from tests.integration.conftest import downgrade_to, migrate_to

WEBHOOK_TABLES = {
    "webhook_endpoints",
    "webhook_events",
    "webhook_deliveries",
    "webhook_attempts",
    "outbox_consumers",
    "outbox_receipts",
}
OUTBOX = sa.text(
    "INSERT INTO outbox_events (name, aggregate_type, aggregate_id, payload, created_at,"
    " organisation_id) VALUES ('invoice.paid', 'invoice', 1, '{}', CURRENT_TIMESTAMP, 1)"
)


def _tables(connection: Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


async def test_upgrade_starts_the_webhooks_consumer_at_the_newest_event_and_downgrades(
    fresh_url: str,
) -> None:
    migrate_to(fresh_url, "0014")
    engine = create_engine(fresh_url)
    try:
        async with engine.begin() as connection:
            for _ in range(3):
                await connection.execute(OUTBOX)
            newest = (
                await connection.execute(sa.text("SELECT max(id) FROM outbox_events"))
            ).scalar()
        await engine.dispose()

        migrate_to(fresh_url, "0015")
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) >= WEBHOOK_TABLES
            consumers = (
                await connection.execute(sa.text("SELECT name, position FROM outbox_consumers"))
            ).all()
        assert [tuple(row) for row in consumers] == [("webhooks", newest)]
        await engine.dispose()

        downgrade_to(fresh_url, "0014")
        async with engine.connect() as connection:
            assert not WEBHOOK_TABLES & await connection.run_sync(_tables)
    finally:
        await engine.dispose()
