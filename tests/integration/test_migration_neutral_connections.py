"""Migration 0013 on a database at 0012 holding two Vipps MobilePay connections (one with keys
of its own, one through the installation's partner keys): each keeps its merchant serial
number as `account`, its market (and client id) as `details`, and its sealed secrets as they
were (nothing is opened); the downgrade gives the old columns back. Both kinds of database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from payrequest.db.session import create_engine
from tests.integration.conftest import downgrade_to, migrate_to

BEFORE, REVISION = "0012", "0013"
WHEN = datetime(2026, 12, 1, 10, tzinfo=UTC)
OWN = {
    "id": 1,
    "organisation_id": 1,
    "provider": "vipps",
    "mode": "test",
    "market": "DK",
    "merchant_serial_number": "123456",
    "client_id": "client-1",
    "client_secret_encrypted": "gAAAA-sealed-secret",
    "subscription_key_encrypted": "gAAAA-sealed-key",
    "webhook_token": "token-own",
    "status": "connected",
}
PLATFORM = {
    **OWN,
    "id": 2,
    "organisation_id": 2,
    "market": "NO",
    "merchant_serial_number": "654321",
    "client_id": None,
    "client_secret_encrypted": None,
    "subscription_key_encrypted": None,
    "webhook_token": "token-platform",
}


async def _rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        found = await connection.execute(sa.text("SELECT * FROM provider_connections ORDER BY id"))
        return [dict(row._mapping) for row in found]


async def _write(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        first = (await connection.execute(sa.text("SELECT * FROM organisations"))).one()
        second = {**first._mapping, "id": 2, "slug": "two", "name": "Two"}
        await connection.execute(_table("organisations", second).insert().values(second))
        for row in (OWN, PLATFORM):
            stamped = {**row, "created_at": WHEN, "updated_at": WHEN}
            await connection.execute(
                _table("provider_connections", stamped).insert().values(stamped)
            )


def _table(name: str, row: dict[str, Any]) -> sa.TableClause:
    return sa.table(name, *(sa.column(key) for key in row))


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def test_connections_keep_their_account_details_and_sealed_secrets(fresh_url: str) -> None:
    migrate_to(fresh_url, BEFORE)
    engine = create_engine(fresh_url)
    try:
        await _write(engine)
        await engine.dispose()

        migrate_to(fresh_url, REVISION)
        own, platform = await _rows(engine)
        assert "merchant_serial_number" not in own and "market" not in own
        assert (own["account"], _json(own["details"]), _json(own["sealed"])) == (
            "123456",
            {"market": "DK", "client_id": "client-1"},
            {"client_secret": "gAAAA-sealed-secret", "subscription_key": "gAAAA-sealed-key"},
        )
        assert (platform["account"], _json(platform["details"]), _json(platform["sealed"])) == (
            "654321",
            {"market": "NO"},
            {},
        )
        assert (own["webhook_token"], own["status"]) == ("token-own", "connected")
        await engine.dispose()

        downgrade_to(fresh_url, BEFORE)
        back = await _rows(engine)
        assert [{k: row[k] for k in OWN} for row in back] == [OWN, PLATFORM]
    finally:
        await engine.dispose()
