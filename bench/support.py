# ruff: noqa: S608 - SQL built from this module's own constants, never from input
"""Shared pieces of the benchmarks: scratch databases, a served app process, seeding, and a
light HTTP/1.1 load client (raw asyncio streams, so the client costs little CPU next to the
server on a 2-core machine)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.customers.models import Customer
from payrequest.db.migrate import upgrade
from payrequest.db.session import create_engine, session_factory
from payrequest.invoices.models import Invoice
from payrequest.kit.clock import utcnow
from payrequest.payment_requests.models import (
    PaymentRequest,
    PaymentRequestEvent,
    PaymentRequestInvoice,
)

POSTGRES_ADMIN_URL = os.environ.get(
    "PAYREQUEST_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ROOT = Path(__file__).resolve().parents[1]
AMOUNT = 12_500  # minor units per seeded invoice and request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _admin(statement: str) -> None:
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def scratch_database(kind: str, tmp: Path) -> Iterator[str]:
    """A fresh, migrated database: a SQLite file in `tmp`, or a throw-away PostgreSQL one."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        yield url
        return
    name = f"bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def pg_dsn(url: str) -> list[str]:
    """psql/pgbench connection arguments for a postgresql:// URL."""
    parsed = make_url(url)
    return [
        "-h",
        parsed.host or "127.0.0.1",
        "-p",
        str(parsed.port or 5432),
        "-U",
        parsed.username or "postgres",
        parsed.database or "postgres",
    ]


def server_env(database_url: str, tmp: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYREQUEST_")}
    env.update(
        PAYREQUEST_DATABASE_URL=database_url,
        PAYREQUEST_PUBLIC_URL=f"http://127.0.0.1:{port}",
        PAYREQUEST_VAR_DIR=str(tmp / "var"),
        PAYREQUEST_SANDBOX_PERSIST="false",
        PAYREQUEST_VIPPS__LONG_LIVING_APPROVED="true",
        PYTHONPATH=str(ROOT / "src") + os.pathsep + str(ROOT),
    )
    env.update(extra)
    return env


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def serve(
    env: dict[str, str],
    port: int,
    *,
    worker: bool = False,
    workers: int = 1,
    within: float = 30,
) -> Served:
    """`python -m bench.server` (the app under uvicorn, access log off) as its own process,
    with `workers` web processes."""
    args = [sys.executable, "-m", "bench.server", "--port", str(port), "--workers", str(workers)]
    if worker:
        args.append("--worker")
    process = subprocess.Popen(args, env=env, cwd=ROOT)  # noqa: S603 - our own module
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + within
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return Served(url, process)
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("server did not start") from None
            time.sleep(0.1)


@contextmanager
def standalone_emulator(tmp: Path, *, rate_limits: bool = True) -> Iterator[str]:
    """`payrequest sandbox` (in memory) as its own process; yields its base URL. Several web
    processes must share one emulator: each would otherwise mount its own."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "payrequest", "sandbox", "--port", str(port), "--state", ""],
        env=server_env("sqlite:///unused.db", tmp, port),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_for_emulator(base, rate_limits=rate_limits)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def _wait_for_emulator(base: str, *, rate_limits: bool, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            response = httpx.patch(f"{base}/faults", json={"rate_limits": rate_limits}, timeout=2)
            response.raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


async def seed_pending(
    sessions: async_sessionmaker[AsyncSession], count: int, *, prefix: str = "bench"
) -> list[str]:
    """`count` customers, each with one open invoice and one `pending` request for it."""
    today = utcnow().date()
    now = utcnow()
    references: list[str] = []
    batch = 1000
    for start in range(0, count, batch):
        async with sessions() as session, session.begin():
            customers = [
                Customer(number=f"C{n:07d}", name=f"Kunde {n}", phone="+4791234567", country="NO")
                for n in range(start, min(count, start + batch))
            ]
            session.add_all(customers)
            await session.flush()
            invoices = [
                Invoice(
                    number=f"I{c.number}",
                    customer_id=c.id,
                    issue_date=today - timedelta(days=20),
                    due_date=today - timedelta(days=6),
                    currency="NOK",
                    total=AMOUNT,
                )
                for c in customers
            ]
            session.add_all(invoices)
            await session.flush()
            for customer, invoice in zip(customers, invoices, strict=True):
                reference = f"{prefix}-{customer.number}"
                references.append(reference)
                session.add(
                    PaymentRequest(
                        reference=reference,
                        customer_id=customer.id,
                        currency="NOK",
                        amount=AMOUNT,
                        phone=customer.phone,
                        user_flow="push",
                        description=f"Invoice {invoice.number}",
                        status="pending",
                        origin="staff",
                        expires_at=now + timedelta(days=1),
                        next_poll_at=now + timedelta(days=1),
                        invoice_links=[
                            PaymentRequestInvoice(
                                invoice_id=invoice.id, currency="NOK", planned_amount=AMOUNT
                            )
                        ],
                        timeline=[
                            PaymentRequestEvent(
                                kind="state_changed",
                                source="user",
                                to_status="pending",
                                occurred_at=now,
                                details={},
                            )
                        ],
                    )
                )
    return references


async def seed(url: str, count: int) -> list[str]:
    engine = create_engine(url)
    try:
        return await seed_pending(session_factory(engine), count)
    finally:
        await engine.dispose()


async def scalar(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text(sql))).scalar_one())
    finally:
        await engine.dispose()


class HttpConnection:
    """One keep-alive HTTP/1.1 connection: send a request, read the status and body."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


def raw_post(host: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# The installation's first organisation (id 1, made by the migrations) owns every seeded row.
SEED_SQL = [
    """INSERT INTO customers (id, organisation_id, number, name, phone, country, locale,
       portal_access, created_at, updated_at)
       SELECT n, 1, 'C' || {pad}, 'Kunde ' || n, '+4791234567', 'NO',
       'nb', false, :now, :now FROM g""",
    """INSERT INTO invoices (id, organisation_id, number, customer_id, issue_date, due_date,
       currency, total, created_at, updated_at)
       SELECT n, 1, 'IC' || {pad}, n, :issue, :due, 'NOK', :amount,
       :now, :now FROM g""",
    """INSERT INTO payment_requests (id, organisation_id, reference, provider, customer_id,
       currency, amount,
       phone, user_flow, description, status, origin, attempt, expires_at, captured_amount,
       refunded_amount, next_poll_at, poll_count, created_at, updated_at)
       SELECT n, 1, 'bench-C' || {pad}, 'vipps', n, 'NOK', :amount,
       '+4791234567', 'push', 'Invoice ' || n, 'pending', 'staff', 0, :expires, 0, 0, :expires,
       0, :now, :now FROM g""",
    """INSERT INTO payment_request_invoices (id, organisation_id, payment_request_id,
       invoice_id, currency, planned_amount, active) SELECT n, 1, n, n, 'NOK', :amount, true
       FROM g""",
    """INSERT INTO payment_request_events (organisation_id, payment_request_id, kind, source,
       to_status, details, occurred_at, recorded_at) SELECT 1, n, 'state_changed', 'user',
       'pending', '{}', :now, :now FROM g""",
]
PG_SEQUENCES = ("customers", "invoices", "payment_requests", "payment_request_invoices")


async def seed_sql(url: str, count: int, *, requests: bool = True) -> list[str]:
    """What `seed_pending` writes (ids 1..count), in five INSERT ... SELECT statements;
    `requests=False`: the customers and their open invoices only."""
    engine = create_engine(url)
    now = utcnow()
    today = now.date()
    params: dict[str, object] = {
        "now": now,
        "expires": now + timedelta(days=1),
        "issue": today - timedelta(days=20),
        "due": today - timedelta(days=6),
        "amount": AMOUNT,
    }
    try:
        async with engine.begin() as connection:
            sqlite = engine.dialect.name == "sqlite"
            if sqlite:  # stored as SQLAlchemy writes DateTime there
                params = {
                    k: v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v
                    for k, v in params.items()
                }
            series = (
                "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g "
                f"WHERE n < {count}) "
                if sqlite
                else f"WITH g(n) AS (SELECT generate_series(1, {count})) "
            )
            pad = "substr('0000000' || (n - 1), -7, 7)" if sqlite else "lpad((n - 1)::text, 7, '0')"
            for statement in SEED_SQL if requests else SEED_SQL[:2]:
                head, select_part = statement.replace("{pad}", pad).split("SELECT", 1)
                sql = head + series + "SELECT" + select_part
                await connection.execute(text(sql), params)
            if not sqlite:
                for table in PG_SEQUENCES if requests else PG_SEQUENCES[:2]:
                    await connection.execute(
                        text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {count})")
                    )
    finally:
        await engine.dispose()
    return [f"bench-C{n:07d}" for n in range(count)]
