"""Migration 0011 on a database made by the migrations before it, on both kinds of database:
a single business with a bit of everything (staff of each role, customers, invoices with lines,
a paid payment request whose overpayment became credit, part of it refunded, a manual payment,
a flow that ran, portal links, sign-in sessions, queued and done jobs, webhooks received and
the registration they came through, audit entries, rate-limit hits) moves whole into
organisation 1, made from the settings; the roles move onto memberships and the owners become
the installation's operators; staff addresses count as verified; customer and invoice numbers
are unique per organisation; the downgrade gives back the roles and every row. A fresh
database at head has exactly the one organisation.

The rows are written with SQLAlchemy Core on the tables as they are at 0010 (reflected), since
the ORM models describe the head."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from payrequest.db.session import create_engine
from tests.integration.conftest import downgrade_to, migrate_to

BEFORE, REVISION = "0010", "0011"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)
OWNER, STAFF, READER, GONE = 1, 2, 3, 4  # users; GONE is a deactivated staff member
PAID_REQUEST = 1
FLOW = 100  # above the ready-made flows migration 0004 adds (kept too)
SEND_JOB, PURGE_JOB, POLL_JOB = 1, 2, 3  # PURGE_JOB and POLL_JOB are the worker's periodic runs

# What the installation was configured with; organisation 1 is made from these.
SETTINGS = {
    "PAYREQUEST_BUSINESS__NAME": "Fjordrør ApS",
    "PAYREQUEST_BUSINESS__ORGANISATION_NUMBER": "DK 12345678",
    "PAYREQUEST_BUSINESS__ADDRESS": "Strøget 1, 1160 København K",
    "PAYREQUEST_VIPPS__MARKET": "DK",
    "PAYREQUEST_DEFAULT_LOCALE": "da",
    "PAYREQUEST_VIPPS__DEFAULT_LIFETIME_MINUTES": "2880",
    "PAYREQUEST_VIPPS__LONG_LIVING_APPROVED": "true",
    "PAYREQUEST_PORTAL__PARTIAL_PAYMENTS": "true",
    "PAYREQUEST_LEDGER__AUTO_APPLY_CREDIT": "true",
}
FIRST_ORGANISATION = {
    "id": 1,
    "slug": "main",
    "name": "Fjordrør ApS",
    "organisation_number": "DK 12345678",
    "address": "Strøget 1, 1160 København K",
    "market": "DK",
    "default_locale": "da",
    "request_lifetime_minutes": 2880,
    "long_living_approved": True,
    "portal_partial_payments": True,
    "auto_apply_credit": True,
    "status": "active",
    "logo_url": None,
    "brand_colour": None,
    "sms_sender": None,
}
# Tables whose rows are the business's after the migration (every table that gets the column).
OWNED = (
    "customers",
    "invoices",
    "invoice_lines",
    "payment_requests",
    "payment_request_invoices",
    "payment_request_events",
    "manual_payments",
    "credits",
    "allocations",
    "refunds",
    "flows",
    "flow_actions",
    "flow_runs",
    "action_runs",
    "portal_links",
    "outbox_events",
    "audit_log",
    "inbound_events",
    "jobs",
    "sign_in_sessions",
    "rate_limit_hits",
)


def _user(id_: int, role: str, *, active: bool = True) -> dict[str, Any]:
    return {
        "id": id_,
        "email": f"user{id_}@fjordror.dk",
        "name": f"{role} {id_}",
        "password_hash": "x",
        "role": role,
        "locale": "da",
        "is_active": active,
        "created_at": NOW,
        "last_login_at": NOW if active else None,
    }


def _customer(id_: int, number: str, name: str) -> dict[str, Any]:
    return {
        "id": id_,
        "number": number,
        "name": name,
        "email": f"kunde{id_}@example.dk",
        "phone": f"+452000000{id_}",
        "country": "DK",
        "locale": "da",
        "portal_access": True,
        "created_at": NOW,
        "updated_at": NOW,
        "search_text": name.lower(),
    }


def _invoice(id_: int, number: str, customer: int, total: int) -> dict[str, Any]:
    return {
        "id": id_,
        "number": number,
        "customer_id": customer,
        "issue_date": date(2026, 11, 1),
        "due_date": date(2026, 11, 15),
        "currency": "DKK",
        "total": total,
        "created_at": NOW,
        "updated_at": NOW,
    }


def _line(id_: int, invoice: int, position: int, net: int) -> dict[str, Any]:
    vat = net // 4
    return {
        "id": id_,
        "invoice_id": invoice,
        "position": position,
        "description": f"Arbejde {id_}",
        "quantity_milli": 1000,
        "unit_price": net,
        "vat_rate_bp": 2500,
        "net_amount": net,
        "vat_amount": vat,
    }


def _job(id_: int, kind: str, key: str, status: str) -> dict[str, Any]:
    return {
        "id": id_,
        "kind": kind,
        "payload": {"slot": 2993400} if key.startswith("periodic:") else {"reference": "pr-1"},
        "dedupe_key": key,
        "status": status,
        "run_at": NOW,
        "attempts": 1 if status == "done" else 0,
        "max_attempts": 1 if key.startswith("periodic:") else 20,
        "created_at": NOW,
        "updated_at": NOW,
        "finished_at": NOW if status == "done" else None,
    }


def _allocation(id_: int, invoice: int, amount: int, **source: int) -> dict[str, Any]:
    return {
        "id": id_,
        "invoice_id": invoice,
        "currency": "DKK",
        "amount": amount,
        "reversal": False,
        "created_at": NOW,
        **source,
    }


# Rows in the order the foreign keys allow.
ROWS: dict[str, list[dict[str, Any]]] = {
    "users": [
        _user(OWNER, "owner"),
        _user(STAFF, "staff"),
        _user(READER, "readonly"),
        _user(GONE, "staff", active=False),
    ],
    "customers": [_customer(1, "K-1", "Hansen VVS"), _customer(2, "K-2", "Jensen Byg")],
    "invoices": [
        _invoice(1, "F-1", 1, 12_500),
        _invoice(2, "F-2", 1, 6_250),
        _invoice(3, "F-3", 2, 10_000),
    ],
    "invoice_lines": [
        _line(1, 1, 0, 6_000),
        _line(2, 1, 1, 4_000),
        _line(3, 2, 0, 5_000),
        _line(4, 3, 0, 8_000),
    ],
    "payment_requests": [
        {
            "id": PAID_REQUEST,
            "reference": "pr-1",
            "provider": "vipps",
            "customer_id": 1,
            "currency": "DKK",
            "amount": 15_000,
            "phone": "+4520000001",
            "user_flow": "push",
            "description": "F-1",
            "status": "paid",
            "origin": "staff",
            "created_by_user_id": STAFF,
            "attempt": 0,
            "expires_at": LATER,
            "captured_amount": 15_000,
            "refunded_amount": 500,
            "provider_state": "CAPTURED",
            "poll_count": 3,
            "created_at": NOW,
            "updated_at": NOW,
            "finished_at": NOW,
            "share_phone": False,
            "save_phone": False,
        }
    ],
    "payment_request_invoices": [
        {
            "id": 1,
            "payment_request_id": PAID_REQUEST,
            "invoice_id": 1,
            "currency": "DKK",
            "planned_amount": 12_500,
            "active": True,
        }
    ],
    "payment_request_events": [
        {
            "id": 1,
            "payment_request_id": PAID_REQUEST,
            "kind": "status",
            "source": "webhook",
            "from_status": "pending",
            "to_status": "paid",
            "provider_event": "CAPTURED",
            "provider_ref": "psp-1",
            "amount": 15_000,
            "details": {"via": "webhook"},
            "occurred_at": NOW,
            "recorded_at": NOW,
        }
    ],
    "manual_payments": [
        {
            "id": 1,
            "customer_id": 2,
            "currency": "DKK",
            "amount": 10_000,
            "received_on": date(2026, 11, 29),
            "method": "bank_transfer",
            "reference": "bank 4711",
            "created_by_user_id": STAFF,
            "created_at": NOW,
        }
    ],
    "credits": [
        {
            "id": 1,
            "customer_id": 1,
            "currency": "DKK",
            "amount": 2_500,
            "payment_request_id": PAID_REQUEST,
            "reason": "Overpayment",
            "created_at": NOW,
        }
    ],
    "refunds": [
        {
            "id": 1,
            "payment_request_id": PAID_REQUEST,
            "credit_id": 1,
            "currency": "DKK",
            "amount": 500,
            "credit_amount": 500,
            "status": "succeeded",
            "idempotency_key": "refund-1",
            "reason": "Paid too much",
            "created_by_user_id": OWNER,
            "created_at": NOW,
            "finished_at": NOW,
        }
    ],
    "allocations": [
        _allocation(1, 1, 12_500, payment_request_id=PAID_REQUEST),
        _allocation(2, 2, 2_000, credit_id=1, created_by_user_id=STAFF),
        _allocation(3, 3, 10_000, manual_payment_id=1),
    ],
    "outbox_events": [
        {
            "id": 1,
            "name": "payment_request.paid",
            "aggregate_type": "payment_request",
            "aggregate_id": PAID_REQUEST,
            "customer_id": 1,
            "payload": {"reference": "pr-1"},
            "created_at": NOW,
            "dispatched_at": NOW,
        }
    ],
    "flows": [
        {
            "id": FLOW,
            "name": "Tak for betalingen",
            "trigger": "payment_request.paid",
            "enabled": True,
            "conditions": {},
            "created_at": NOW,
            "updated_at": NOW,
        }
    ],
    "flow_actions": [
        {"id": FLOW, "flow_id": FLOW, "position": 0, "kind": "sms", "config": {"text": "Tak!"}}
    ],
    "flow_runs": [
        {
            "id": 1,
            "flow_id": FLOW,
            "outbox_event_id": 1,
            "event_name": "payment_request.paid",
            "is_test": False,
            "status": "done",
            "actions": [{"kind": "sms"}],
            "created_at": NOW,
            "finished_at": NOW,
        }
    ],
    "action_runs": [
        {
            "id": 1,
            "flow_run_id": 1,
            "position": 0,
            "kind": "sms",
            "status": "done",
            "attempts": 1,
            "idempotency_key": "flowrun-1-action-0",
            "rendered": {"text": "Tak!"},
            "created_at": NOW,
            "updated_at": NOW,
            "sent_at": NOW,
            "finished_at": NOW,
        }
    ],
    "portal_links": [
        {
            "id": 1,
            "customer_id": 1,
            "token_hash": "a" * 64,
            "channel": "sms",
            "created_by_user_id": STAFF,
            "created_at": NOW,
            "expires_at": LATER,
            "used_at": NOW,
        },
        {
            "id": 2,
            "customer_id": 2,
            "token_hash": "b" * 64,
            "channel": "email",
            "created_at": NOW,
            "expires_at": LATER,
        },
    ],
    "sign_in_sessions": [
        {
            "id": 1,
            "token_hash": "c" * 64,
            "kind": "staff",
            "user_id": STAFF,
            "created_at": NOW,
            "expires_at": LATER,
        },
        {
            "id": 2,
            "token_hash": "d" * 64,
            "kind": "portal",
            "customer_id": 1,
            "created_at": NOW,
            "expires_at": LATER,
            "ended_at": NOW,
            "end_reason": "signed_out",
        },
    ],
    "jobs": [
        _job(SEND_JOB, "payment_requests.send", "send:pr-1", "done"),
        _job(PURGE_JOB, "jobs.purge", "periodic:jobs.purge:2993400", "queued"),
        _job(
            POLL_JOB, "payment_requests.poll", "periodic:payment_requests.poll:1796040000", "done"
        ),
    ],
    "inbound_events": [
        {
            "id": 1,
            "provider": "vipps",
            "dedupe_key": "psp-1:CAPTURED",
            "reference": "pr-1",
            "event_name": "CAPTURED",
            "body": '{"reference": "pr-1"}',
            "headers": {"content-type": "application/json"},
            "status": "applied",
            "received_at": NOW,
            "applied_at": NOW,
        },
        {
            "id": 2,
            "provider": "vipps",
            "dedupe_key": "psp-9:CAPTURED",
            "reference": "pr-unknown",
            "event_name": "CAPTURED",
            "body": "{}",
            "headers": {},
            "status": "unmatched",
            "received_at": NOW,
        },
    ],
    "audit_log": [
        {
            "id": 1,
            "at": NOW,
            "user_id": STAFF,
            "action": "payment_request.create",
            "subject_type": "payment_request",
            "subject_id": PAID_REQUEST,
            "details": {"amount": 15_000},
            "address": "192.0.2.10",
        },
        {
            "id": 2,
            "at": NOW,
            "user_id": None,
            "action": "staff.sign_in_failed",
            "details": {"email": "someone@example.dk"},
            "address": "198.51.100.7",
        },
    ],
    "rate_limit_hits": [
        {"id": 1, "key": "sign_in:198.51.100.7", "created_at": NOW},
        {"id": 2, "key": "portal_link:+4520000001", "created_at": NOW},
    ],
    "webhook_registrations": [
        {
            "id": 1,
            "provider": "vipps",
            "merchant_id": "123456",
            "external_id": "wh-1",
            "url": "https://pay.fjordror.dk/webhooks/vipps",
            "secret_encrypted": "sealed",
            "created_at": NOW,
        }
    ],
}
PERIODIC = {PURGE_JOB, POLL_JOB}


def _reflect(connection: Connection) -> sa.MetaData:
    metadata = sa.MetaData()
    metadata.reflect(connection)
    return metadata


async def _tables(engine: AsyncEngine) -> sa.MetaData:
    async with engine.connect() as connection:
        return await connection.run_sync(_reflect)


async def _write(engine: AsyncEngine) -> None:
    """The single business, at 0010."""
    tables = (await _tables(engine)).tables
    async with engine.begin() as connection:
        for name, rows in ROWS.items():
            for row in rows:  # one by one: the rows do not all name the same columns
                await connection.execute(tables[name].insert().values(row))


async def _everything(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table but Alembic's, as plain dicts, by table."""
    metadata = await _tables(engine)
    found: dict[str, list[dict[str, Any]]] = {}
    async with engine.connect() as connection:
        for name, table in metadata.tables.items():
            if name == "alembic_version":
                continue
            rows = await connection.execute(table.select().order_by(*table.primary_key.columns))
            found[name] = [dict(row._mapping) for row in rows]
    return found


def _without(rows: list[dict[str, Any]], *columns: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in columns} for row in rows]


async def _scalars(engine: AsyncEngine, sql: str) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(sa.text(sql))).scalars())


async def _refused(engine: AsyncEngine, table: str, row: dict[str, Any]) -> None:
    tables = (await _tables(engine)).tables
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(tables[table].insert().values(row))


async def _add(engine: AsyncEngine, table: str, row: dict[str, Any]) -> None:
    tables = (await _tables(engine)).tables
    async with engine.begin() as connection:
        await connection.execute(tables[table].insert().values(row))


def _configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, value)


async def test_a_single_business_moves_whole_into_organisation_one_and_back(
    fresh_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _configured(monkeypatch)
    migrate_to(fresh_url, BEFORE)
    engine = create_engine(fresh_url)
    try:
        await _write(engine)
        before = await _everything(engine)
        for name, rows in ROWS.items():
            ids = {row["id"] for row in rows}
            assert ids <= {row["id"] for row in before[name]}, name
        await engine.dispose()

        migrate_to(fresh_url, REVISION)
        after = await _everything(engine)

        # Organisation 1, made from the settings: the only one.
        organisations = [_without([row], "created_at")[0] for row in after["organisations"]]
        assert organisations == [FIRST_ORGANISATION]

        # Every row kept, unchanged but for its organisation, which is 1 …
        for name in OWNED:
            assert _without(after[name], "organisation_id") == before[name], name
            # (the worker's periodic runs: the next test)
            business = [row for row in after[name] if name != "jobs" or row["id"] not in PERIODIC]
            assert {row["organisation_id"] for row in business} == {1}, name
        assert set(before) - set(OWNED) == {"users", "webhook_registrations"}
        # The registration belongs to no connection of an organisation's own yet.
        assert (
            _without(after["webhook_registrations"], "connection_id")
            == before["webhook_registrations"]
        )
        assert [row["connection_id"] for row in after["webhook_registrations"]] == [None]
        assert after["provider_connections"] == []

        # … each person's role is now their membership's, the owners run the installation;
        # their addresses count as verified since they signed up.
        assert _without(after["users"], "is_operator", "email_verified_at") == _without(
            before["users"], "role"
        )
        assert [row["email_verified_at"] for row in after["users"]] == [
            row["created_at"] for row in after["users"]
        ]
        assert {row["id"]: row["is_operator"] for row in after["users"]} == {
            OWNER: True,
            STAFF: False,
            READER: False,
            GONE: False,
        }
        assert [
            (m["user_id"], m["organisation_id"], m["role"], m["is_active"])
            for m in after["memberships"]
        ] == [
            (OWNER, 1, "owner", True),
            (STAFF, 1, "staff", True),
            (READER, 1, "readonly", True),
            (GONE, 1, "staff", False),
        ]
        await engine.dispose()

        # Numbers are unique per organisation: organisation 2 may have its own K-1 and F-1,
        # organisation 1 may not have a second.
        await _add(
            engine,
            "organisations",
            {**FIRST_ORGANISATION, "id": 2, "slug": "andet", "name": "Andet ApS"}
            | {"created_at": NOW},
        )
        await _add(engine, "customers", {**_customer(3, "K-1", "Other"), "organisation_id": 2})
        await _add(engine, "invoices", {**_invoice(4, "F-1", 3, 100), "organisation_id": 2})
        await _refused(engine, "customers", {**_customer(4, "K-1", "Twin"), "organisation_id": 1})
        await _refused(engine, "invoices", {**_invoice(5, "F-2", 1, 100), "organisation_id": 1})
        async with engine.begin() as connection:
            await connection.execute(sa.text("DELETE FROM invoices WHERE organisation_id = 2"))
            await connection.execute(sa.text("DELETE FROM customers WHERE organisation_id = 2"))
            await connection.execute(sa.text("DELETE FROM organisations WHERE id = 2"))
        await engine.dispose()

        downgrade_to(fresh_url, BEFORE)
        back = await _everything(engine)
        assert back == before
        await engine.dispose()
    finally:
        await engine.dispose()


async def test_the_workers_periodic_runs_stay_the_installations(
    fresh_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At head the worker enqueues its periodic runs acting for every organisation (no
    organisation_id); runs queued before the upgrade are the same work and stay so, or the
    next one of each kind would run for organisation 1 alone."""
    _configured(monkeypatch)
    migrate_to(fresh_url, BEFORE)
    engine = create_engine(fresh_url)
    try:
        tables = (await _tables(engine)).tables
        async with engine.begin() as connection:
            for row in ROWS["jobs"]:
                await connection.execute(tables["jobs"].insert().values(row))
        await engine.dispose()
        migrate_to(fresh_url, REVISION)
        found = await _scalars(engine, "SELECT organisation_id FROM jobs ORDER BY id")
        assert found == [None if row["id"] in PERIODIC else 1 for row in ROWS["jobs"]]
    finally:
        await engine.dispose()


async def test_a_fresh_database_has_exactly_one_organisation(fresh_url: str) -> None:
    migrate_to(fresh_url, "head")
    engine = create_engine(fresh_url)
    try:
        assert await _scalars(engine, "SELECT id FROM organisations") == [1]
        # The next organisation gets the next id (PostgreSQL's sequence was moved past 1).
        tables = (await _tables(engine)).tables
        async with engine.begin() as connection:
            new = await connection.execute(
                tables["organisations"]
                .insert()
                .values(
                    {k: v for k, v in FIRST_ORGANISATION.items() if k != "id"}
                    | {"slug": "second", "created_at": NOW}
                )
                .returning(tables["organisations"].c.id)
            )
            assert new.scalar_one() == 2
    finally:
        await engine.dispose()
