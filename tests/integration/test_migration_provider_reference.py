"""Migration 0012 on a database at 0011 holding a single business: a request that reached
Vipps MobilePay gets our reference as the provider's key of its payment, one still `sending`
gets none; provider states turn to the neutral vocabulary; the downgrade gives back Vipps'
spelling and drops the column. Both kinds of database."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from payrequest.db.session import create_engine
from tests.integration.conftest import downgrade_to, migrate_to
from tests.integration.test_migration_organisations import ROWS, _tables, _write

BEFORE, REVISION = "0011", "0012"


async def _requests(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        rows = await connection.execute(sa.text("SELECT * FROM payment_requests ORDER BY id"))
        return [dict(row._mapping) for row in rows]


async def _add_one_still_sending(engine: AsyncEngine) -> None:
    [paid] = ROWS["payment_requests"]
    sending = {
        **paid,
        "id": 2,
        "reference": "pr-2",
        "status": "sending",
        "captured_amount": 0,
        "refunded_amount": 0,
        "provider_state": None,
        "finished_at": None,
        "organisation_id": 1,
    }
    table = (await _tables(engine)).tables["payment_requests"]
    async with engine.begin() as connection:
        await connection.execute(table.insert().values(sending))


async def test_requests_learn_their_key_at_the_provider_and_the_neutral_state(
    fresh_url: str,
) -> None:
    migrate_to(fresh_url, "0010")
    engine = create_engine(fresh_url)
    try:
        await _write(engine)
        await engine.dispose()
        migrate_to(fresh_url, BEFORE)
        await _add_one_still_sending(engine)
        await engine.dispose()

        migrate_to(fresh_url, REVISION)
        paid, sending = await _requests(engine)
        assert (paid["provider"], paid["provider_reference"]) == ("vipps", "pr-1")
        assert paid["provider_state"] == "captured"
        assert (sending["provider_reference"], sending["provider_state"]) == (None, None)
        await engine.dispose()

        downgrade_to(fresh_url, BEFORE)
        paid, sending = await _requests(engine)
        assert "provider_reference" not in paid
        assert paid["provider_state"] == "CAPTURED"
    finally:
        await engine.dispose()
