# ruff: noqa: S608 - SQL built from this module's own constants, never from input
"""Seeding for `python -m bench bigdata`: many organisations' customers, invoices, payment
requests, their timelines and allocations, written with COPY (asyncpg's
`copy_records_to_table`) into a migrated PostgreSQL database.

Rows are dealt round-robin over the organisations (row n belongs to organisation
`n % organisations + 1`), so one business's rows are scattered over the whole table as they
would be after years of interleaved use. Request r covers invoice r (same organisation, same
customer); a third of those invoices are paid by their request (an allocation), the rest are
open, partly paid or void. One extra customer of organisation 1, the "heavy" one, has
`heavy` invoices of its own, a third of them paid from one large credit (P9b).

Triggers and foreign-key checks are off while copying (`session_replication_role = replica`),
so every figure a trigger would maintain is written here, consistent with the rows.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]

STATUSES = ("paid", "failed", "expired", "cancelled", "pending", "rejected", "refunded")
ACTIVE = {"pending"}
CHUNK = 200_000  # rows generated and copied at a time (bounded memory)


@dataclass(frozen=True, slots=True)
class Sizes:
    organisations: int
    customers_per_org: int
    requests: int
    events: int
    invoices: int
    heavy: int

    @property
    def customers(self) -> int:
        return self.organisations * self.customers_per_org

    @property
    def heavy_customer(self) -> int:
        """The id of organisation 1's customer with `heavy` invoices."""
        return self.customers + 1

    def customer_of(self, row: int) -> int:
        """The customer of invoice/request `row` (1-based): one of its organisation's."""
        org = (row - 1) % self.organisations
        k = ((row - 1) // self.organisations) % self.customers_per_org
        return k * self.organisations + org + 1


@dataclass(frozen=True, slots=True)
class Seeded:
    seconds: float
    rows: dict[str, int]


def _org(row: int, sizes: Sizes) -> int:
    return (row - 1) % sizes.organisations + 1


def _paid(row: int) -> int | None:
    """What is allocated to invoice `row` (None: nothing): fully, 40 %, or not at all."""
    if row % 3 == 0:
        return 1_000_000  # the whole total, see _total
    if row % 6 == 1:
        return 400_000
    return None


def _total(row: int) -> int:
    return 1_000_000


def _voided(row: int) -> bool:
    return row % 97 == 5  # never a paid one (row % 3 == 2)


async def _copy(
    conn: asyncpg.Connection, table: str, columns: list[str], rows: Iterator[tuple[Any, ...]]
) -> int:
    count = 0
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            await conn.copy_records_to_table(table, records=chunk, columns=columns)
            count += len(chunk)
            chunk = []
    if chunk:
        await conn.copy_records_to_table(table, records=chunk, columns=columns)
        count += len(chunk)
    return count


def _organisations(sizes: Sizes, now: datetime) -> Iterator[tuple[Any, ...]]:
    """Organisations 2.. (1 is the migration's); the status and creation time follow."""
    for o in range(2, sizes.organisations + 1):
        name, number = f"Bedrift {o} AS", f"9{o:08d}"
        yield (o, f"org-{o}", name, number, "NO", "nb", "Gata 1", 60, False, False, False)


ORG_COLUMNS = [
    "id",
    "slug",
    "name",
    "organisation_number",
    "market",
    "default_locale",
    "address",
    "request_lifetime_minutes",
    "long_living_approved",
    "portal_partial_payments",
    "auto_apply_credit",
    "status",
    "created_at",
]


CUSTOMER_COLUMNS = [
    "id",
    "number",
    "name",
    "email",
    "phone",
    "country",
    "locale",
    "portal_access",
    "created_at",
    "updated_at",
    "search_text",
    "organisation_id",
    "reminders",
]


def _customer_rows(sizes: Sizes, now: datetime) -> Iterator[tuple[Any, ...]]:
    for c in range(1, sizes.customers + 2):
        heavy = c == sizes.heavy_customer
        org = 1 if heavy else (c - 1) % sizes.organisations + 1
        name = "Tung Kunde AS" if heavy else f"Kunde {c} AS"
        phone = f"+479{c:07d}"
        number = f"C-{c}"
        email = f"kunde{c}@example.no"
        search = f"{name} {number} {email} {phone}".lower()
        yield (c, number, name, email, phone, "NO", "nb", False, now, now, search, org, "on")


INVOICE_COLUMNS = [
    "id",
    "number",
    "customer_id",
    "issue_date",
    "due_date",
    "currency",
    "total",
    "voided_at",
    "created_at",
    "updated_at",
    "organisation_id",
    "reminders_paused",
]


def _invoice_rows(
    sizes: Sizes, today: date, now: datetime, *, allocated: bool
) -> Iterator[tuple[Any, ...]]:
    """Ordinary invoices, then the heavy customer's; `allocated`: with the maintained column."""
    for i in range(1, sizes.invoices + sizes.heavy + 1):
        heavy = i > sizes.invoices
        org = 1 if heavy else _org(i, sizes)
        customer = sizes.heavy_customer if heavy else sizes.customer_of(i)
        issue = today - timedelta(days=i % 700)
        paid = _paid(i)
        voided = now if _voided(i) else None
        row = (i, f"I{i}", customer, issue, issue + timedelta(days=14), "NOK", _total(i))
        rest = (voided, now, now, org, False)
        yield row + rest + ((paid or 0,) if allocated else ())


def _status(r: int) -> str:
    """Request r's status: paid when its invoice is fully paid, else one of the others."""
    status = "paid" if _paid(r) == _total(r) else STATUSES[1 + r % (len(STATUSES) - 1)]
    return "cancelled" if _voided(r) and status in ACTIVE else status


def _request_rows(sizes: Sizes, now: datetime) -> Iterator[tuple[Any, ...]]:
    for r in range(1, sizes.requests + 1):
        status = _status(r)
        captured = _total(r) if status == "paid" else 0
        created = now - timedelta(minutes=sizes.requests - r)
        finished = None if status in ACTIVE else created + timedelta(minutes=2)
        yield (
            r,
            f"bd-{r}",
            "vipps",
            sizes.customer_of(r),
            "NOK",
            _total(r),
            "+4791234567",
            "push",
            f"Faktura I{r}",
            status,
            "staff",
            0,
            created + timedelta(minutes=5),
            captured,
            0,
            0,
            created,
            created,
            finished,
            False,
            False,
            _org(r, sizes),
        )


REQUEST_COLUMNS = [
    "id",
    "reference",
    "provider",
    "customer_id",
    "currency",
    "amount",
    "phone",
    "user_flow",
    "description",
    "status",
    "origin",
    "attempt",
    "expires_at",
    "captured_amount",
    "refunded_amount",
    "poll_count",
    "created_at",
    "updated_at",
    "finished_at",
    "share_phone",
    "save_phone",
    "organisation_id",
]


def _link_rows(sizes: Sizes) -> Iterator[tuple[Any, ...]]:
    for r in range(1, sizes.requests + 1):
        yield (r, r, r, "NOK", _total(r), _status(r) in ACTIVE, _org(r, sizes))


LINK_COLUMNS = [
    "id",
    "payment_request_id",
    "invoice_id",
    "currency",
    "planned_amount",
    "active",
    "organisation_id",
]


def _event_rows(sizes: Sizes, now: datetime) -> Iterator[tuple[Any, ...]]:
    per = max(1, sizes.events // max(1, sizes.requests))
    steps = ("sending", "pending", "authorized", "paid", "paid")
    n = 0
    for r in range(1, sizes.requests + 1):
        at = now - timedelta(minutes=sizes.requests - r)
        for s in range(per):
            n += 1
            before = steps[s - 1] if s else None
            after = steps[min(s, len(steps) - 1)]
            yield (n, r, "state_changed", "webhook", before, after, "{}", at, at, _org(r, sizes))


EVENT_COLUMNS = [
    "id",
    "payment_request_id",
    "kind",
    "source",
    "from_status",
    "to_status",
    "details",
    "occurred_at",
    "recorded_at",
    "organisation_id",
]


def _allocation_rows(sizes: Sizes, now: datetime) -> Iterator[tuple[Any, ...]]:
    """Request r pays invoice r when it is fully paid; the other paid or partly paid
    invoices are paid from their customer's credit (see `_credit_rows`)."""
    n = 0
    for i in range(1, sizes.invoices + sizes.heavy + 1):
        paid = _paid(i)
        if paid is None:
            continue
        n += 1
        heavy = i > sizes.invoices
        org = 1 if heavy else _org(i, sizes)
        if not heavy and paid == _total(i) and i <= sizes.requests:
            source: tuple[int | None, int | None] = (i, None)
        else:
            source = (None, 1 if heavy else 1 + sizes.customer_of(i))
        yield (n, i, "NOK", paid, *source, now, False, org)


ALLOCATION_COLUMNS = [
    "id",
    "invoice_id",
    "currency",
    "amount",
    "payment_request_id",
    "credit_id",
    "created_at",
    "reversal",
    "organisation_id",
]


def _credit_rows(sizes: Sizes, now: datetime) -> Iterator[tuple[Any, ...]]:
    """Credit 1: the heavy customer's; credit 1 + c: ordinary customer c's."""
    big = 10**13
    yield (1, sizes.heavy_customer, "NOK", big, "bench", now, 1)
    for c in range(1, sizes.customers + 1):
        yield (1 + c, c, "NOK", big, "bench", now, (c - 1) % sizes.organisations + 1)


CREDIT_COLUMNS = [
    "id",
    "customer_id",
    "currency",
    "amount",
    "reason",
    "created_at",
    "organisation_id",
]


async def seed(dsn: str, sizes: Sizes) -> Seeded:
    """Write every row; returns how long it took (COPY, sequences, ANALYZE) and the counts."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    today = now.date()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET session_replication_role = replica")
        has_allocated = await conn.fetchval(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = 'invoices' AND column_name = 'allocated'"
        )
        rows: dict[str, int] = {}
        orgs = ((*row, "active", now) for row in _organisations(sizes, now))
        rows["organisations"] = await _copy(conn, "organisations", ORG_COLUMNS, orgs)
        rows["customers"] = await _copy(
            conn, "customers", CUSTOMER_COLUMNS, _customer_rows(sizes, now)
        )
        columns = INVOICE_COLUMNS + (["allocated"] if has_allocated else [])
        rows["invoices"] = await _copy(
            conn,
            "invoices",
            columns,
            _invoice_rows(sizes, today, now, allocated=bool(has_allocated)),
        )
        rows["payment_requests"] = await _copy(
            conn, "payment_requests", REQUEST_COLUMNS, _request_rows(sizes, now)
        )
        rows["payment_request_invoices"] = await _copy(
            conn, "payment_request_invoices", LINK_COLUMNS, _link_rows(sizes)
        )
        rows["payment_request_events"] = await _copy(
            conn, "payment_request_events", EVENT_COLUMNS, _event_rows(sizes, now)
        )
        rows["credits"] = await _copy(conn, "credits", CREDIT_COLUMNS, _credit_rows(sizes, now))
        rows["allocations"] = await _copy(
            conn, "allocations", ALLOCATION_COLUMNS, _allocation_rows(sizes, now)
        )
        for table in (*rows, "organisations"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        await conn.execute("SET session_replication_role = origin")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return Seeded(time.perf_counter() - started, rows)
