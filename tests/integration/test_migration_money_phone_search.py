"""Migration 0007 (issue 12) on a database made by the migrations before it, on both kinds of
database: existing refunds' negative allocations become reversals, existing customers get their
search text, and the new rules hold (one source per allocation, signs match the kind)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from payrequest.db.migrate import alembic_config
from payrequest.db.session import create_engine
from tests.integration.conftest import migrate_to

REVISION = "0007"


def _before() -> str:
    """The revision this migration builds on."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    down = script.get_revision(REVISION).down_revision
    assert isinstance(down, str)
    return down


NOW = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


async def _old_data(engine: AsyncEngine) -> None:
    statements = [
        "INSERT INTO customers (id, number, name, email, phone, country, locale, portal_access,"
        " created_at, updated_at) VALUES (1, 'C-1', 'Østerhus Bakeri AS', 'Post@Oster.no',"
        " '+4791834562', 'NO', 'nb', false, :now, :now)",
        "INSERT INTO invoices (id, number, customer_id, issue_date, due_date, currency, total,"
        " created_at, updated_at) VALUES (1, 'F-1', 1, '2026-10-01', '2026-10-15', 'NOK', 10000,"
        " :now, :now)",
        "INSERT INTO payment_requests (id, reference, provider, customer_id, currency, amount,"
        " user_flow, description, status, origin, attempt, expires_at, captured_amount,"
        " refunded_amount, poll_count, created_at, updated_at) VALUES (1, 'pr-c1-aaaaaaaaaa',"
        " 'vipps', 1, 'NOK', 10000, 'push', 'Invoice F-1', 'refunded', 'staff', 0, :now, 10000,"
        " 4000, 0, :now, :now)",
        "INSERT INTO allocations (id, invoice_id, currency, amount, payment_request_id,"
        " created_at) VALUES (1, 1, 'NOK', 10000, 1, :now)",
        "INSERT INTO refunds (id, payment_request_id, currency, amount, credit_amount, status,"
        " idempotency_key, reason, created_at) VALUES (1, 1, 'NOK', 4000, 0, 'succeeded',"
        " 'refund-1', 'Wrong amount', :now)",
        "INSERT INTO allocations (id, invoice_id, currency, amount, payment_request_id,"
        " refund_id, created_at) VALUES (2, 1, 'NOK', -4000, 1, 1, :now)",
    ]
    async with engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement), {"now": NOW})


async def test_existing_rows_are_carried_over(fresh_url: str) -> None:
    migrate_to(fresh_url, _before())
    engine = create_engine(fresh_url)
    try:
        await _old_data(engine)
        await engine.dispose()
        migrate_to(fresh_url, "head")
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text("SELECT id, amount, reversal FROM allocations ORDER BY id")
                )
            ).all()
            found = (
                await connection.execute(text("SELECT search_text FROM customers"))
            ).scalar_one()
        assert [(r[0], r[1], bool(r[2])) for r in rows] == [(1, 10000, False), (2, -4000, True)]
        assert "østerhus bakeri as" in found and "post@oster.no" in found
        assert "4791834562" in found
        with pytest.raises(IntegrityError):
            async with engine.begin() as connection:  # not a reversal, yet negative
                await connection.execute(
                    text(
                        "INSERT INTO allocations (invoice_id, currency, amount, payment_request_id,"
                        " reversal, created_at) VALUES (1, 'NOK', -1, 1, false, :now)"
                    ),
                    {"now": NOW},
                )
        with pytest.raises(IntegrityError):
            async with engine.begin() as connection:  # two sources at once
                await connection.execute(
                    text(
                        "INSERT INTO credits (id, customer_id, currency, amount, reason,"
                        " created_at) VALUES (1, 1, 'NOK', 100, 'x', :now)"
                    ),
                    {"now": NOW},
                )
                await connection.execute(
                    text(
                        "INSERT INTO allocations (invoice_id, currency, amount, payment_request_id,"
                        " credit_id, created_at) VALUES (1, 'NOK', 1, 1, 1, :now)"
                    ),
                    {"now": NOW},
                )
    finally:
        await engine.dispose()
