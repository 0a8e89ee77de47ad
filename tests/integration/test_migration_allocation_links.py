"""Migration 0009 on a database made by the migrations before it, on both kinds of database:
an undone manual payment's reversals name the allocations they take back; what the
`credit.applied` and `credit.taken_back` events said (who applied credit, which application a
reversal took back, who took it back and why) is copied onto the rows, where the rows agree;
afterwards the database refuses a second reversal of the same row and a non-reversal naming
one; the card reads the carried-over rows; downgrading takes the columns away again."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from payrequest.db.migrate import alembic_config
from payrequest.db.session import create_engine
from payrequest.ledger import read
from tests.integration.conftest import downgrade_to, migrate_to

REVISION = "0009"
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
STAFF, OWNER = 1, 2
PAID, TAKEN_BACK = 1, 2  # invoices
MANUAL, MANUAL_UNDONE = 1, 2  # allocations of an undone manual payment
APPLIED, TWIN, REVERSAL, STRANGER = 3, 4, 5, 6  # allocations of credit 1

_events = sa.table(
    "outbox_events",
    sa.column("name", sa.String()),
    sa.column("aggregate_type", sa.String()),
    sa.column("aggregate_id", sa.Integer()),
    sa.column("customer_id", sa.Integer()),
    sa.column("payload", sa.JSON()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


_users = sa.table(
    "users",
    *(sa.column(c) for c in ("id", "email", "name", "password_hash", "role", "locale")),
    sa.column("is_active", sa.Boolean()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_invoices = sa.table(
    "invoices",
    *(sa.column(c) for c in ("id", "number", "customer_id", "currency", "total")),
    *(sa.column(c, sa.Date()) for c in ("issue_date", "due_date")),
    *(sa.column(c, sa.DateTime(timezone=True)) for c in ("created_at", "updated_at")),
)
_allocations = sa.table(
    "allocations",
    *(sa.column(c) for c in ("id", "invoice_id", "currency", "amount", "credit_id")),
    *(sa.column(c) for c in ("manual_payment_id", "reverses_allocation_id")),
    sa.column("reversal", sa.Boolean()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _before() -> str:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    down = script.get_revision(REVISION).down_revision
    assert isinstance(down, str)
    return down


def _user(id_: int, role: str) -> dict[str, Any]:
    return {
        "id": id_,
        "email": f"{role}@example.no",
        "name": role,
        "password_hash": "x",
        "role": role,
        "locale": "en",
        "is_active": True,
        "created_at": NOW,
    }


def _invoice(id_: int) -> dict[str, Any]:
    return {
        "id": id_,
        "number": f"F-{id_}",
        "customer_id": 1,
        "currency": "NOK",
        "total": 10_000,
        "issue_date": date(2026, 10, 1),
        "due_date": date(2026, 10, 15),
        "created_at": NOW,
        "updated_at": NOW,
    }


def _allocation(
    id_: int, invoice: int, amount: int, *, manual: bool = False, takes_back: int | None = None
) -> dict[str, Any]:
    return {
        "id": id_,
        "invoice_id": invoice,
        "currency": "NOK",
        "amount": amount,
        "credit_id": None if manual else 1,
        "manual_payment_id": 1 if manual else None,
        "reverses_allocation_id": takes_back,
        "reversal": amount < 0,
        "created_at": NOW,
    }


def _event(name: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "aggregate_type": "credit",
        "aggregate_id": 1,
        "customer_id": 1,
        "payload": payload,
        "created_at": NOW,
    }


async def _old_data(engine: AsyncEngine) -> None:
    """A manual payment undone, and credit applied twice by staff to one invoice, the second
    application taken back by an owner, as the code before 0009 wrote them."""
    customer = (
        "INSERT INTO customers (id, number, name, country, locale, portal_access, created_at,"
        " updated_at) VALUES (1, 'C-1', 'Fjord AS', 'NO', 'nb', false, :now, :now)"
    )
    sources = [
        "INSERT INTO manual_payments (id, customer_id, currency, amount, received_on, method,"
        " created_at, undone_at, undone_by_user_id, undo_reason) VALUES (1, 1, 'NOK', 5000,"
        " '2026-11-19', 'cash', :now, :now, 2, 'Bounced')",
        "INSERT INTO credits (id, customer_id, currency, amount, reason, created_at)"
        " VALUES (1, 1, 'NOK', 8000, 'Overpayment', :now)",
    ]
    allocations = [
        _allocation(MANUAL, PAID, 5000, manual=True),
        _allocation(MANUAL_UNDONE, PAID, -5000, manual=True),
        _allocation(APPLIED, TAKEN_BACK, 2000),
        _allocation(TWIN, TAKEN_BACK, 2000),
        _allocation(REVERSAL, TAKEN_BACK, -2000),
        _allocation(STRANGER, PAID, 1000),
    ]
    events = [
        _event("credit.applied", {"source": "staff", "by": STAFF, "allocations": [APPLIED]}),
        _event("credit.applied", {"source": "staff", "by": STAFF, "allocations": [TWIN]}),
        _event(
            "credit.taken_back",
            {"allocation": TWIN, "reversal": REVERSAL, "reason": "Wrong invoice", "by": OWNER},
        ),
        # A user or a row this database does not have: left as it is.
        _event("credit.applied", {"source": "staff", "by": 99, "allocations": [STRANGER]}),
        _event("credit.taken_back", {"allocation": APPLIED, "reversal": 999, "reason": "x"}),
    ]
    async with engine.begin() as connection:
        await connection.execute(_users.insert(), [_user(STAFF, "staff"), _user(OWNER, "owner")])
        await connection.execute(sa.text(customer), {"now": NOW})
        await connection.execute(_invoices.insert(), [_invoice(PAID), _invoice(TAKEN_BACK)])
        for statement in sources:
            await connection.execute(sa.text(statement), {"now": NOW})
        # Before 0009 there is no reverses_allocation_id to write.
        await connection.execute(
            _allocations.insert(),
            [{k: v for k, v in a.items() if k != "reverses_allocation_id"} for a in allocations],
        )
        await connection.execute(_events.insert(), events)


async def _rows(engine: AsyncEngine) -> dict[int, tuple[Any, ...]]:
    async with engine.connect() as connection:
        found = await connection.execute(
            sa.text(
                "SELECT id, reverses_allocation_id, created_by_user_id, note FROM allocations"
                " ORDER BY id"
            )
        )
        return {row[0]: tuple(row[1:]) for row in found}


async def _refused(engine: AsyncEngine, row: dict[str, Any]) -> None:
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(_allocations.insert(), [row])


async def test_links_and_people_are_carried_over_and_kept_by_the_database(
    fresh_url: str,
) -> None:
    migrate_to(fresh_url, _before())
    engine = create_engine(fresh_url)
    try:
        await _old_data(engine)
        await engine.dispose()
        migrate_to(fresh_url, "head")  # the card below reads with the current models

        assert await _rows(engine) == {
            MANUAL: (None, None, None),
            MANUAL_UNDONE: (MANUAL, None, None),
            APPLIED: (None, STAFF, None),
            TWIN: (None, STAFF, None),
            REVERSAL: (TWIN, OWNER, "Wrong invoice"),
            STRANGER: (None, None, None),
        }
        async with async_sessionmaker(engine)() as session:
            applied, _ = await read.applied_credit(session, 1)
        assert [(a.id, a.applied_by, a.taken_back_by, a.take_back_reason) for a in applied] == [
            (STRANGER, None, None, None),
            (TWIN, "staff", "owner", "Wrong invoice"),
            (APPLIED, "staff", None, None),
        ]

        # The twin is taken back already: a second reversal of it is refused by the database.
        await _refused(engine, _allocation(100, TAKEN_BACK, -2000, takes_back=TWIN))
        # Only a reversal takes a row back.
        await _refused(engine, _allocation(101, TAKEN_BACK, 2000, takes_back=APPLIED))
        await engine.dispose()

        downgrade_to(fresh_url, _before())
        async with engine.connect() as connection:
            columns = await connection.run_sync(
                lambda sync: {c["name"] for c in sa.inspect(sync).get_columns("allocations")}
            )
            count = (
                await connection.execute(sa.text("SELECT count(*) FROM allocations"))
            ).scalar_one()
        assert not {"reverses_allocation_id", "created_by_user_id", "note"} & columns
        assert count == 6
    finally:
        await engine.dispose()
