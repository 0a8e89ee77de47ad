"""P9: the customer card with 2 000 invoices, server time per request (target p95 ≤ 100 ms).

Builds a fresh database (SQLite file by default, or `--database postgresql://...`), one
customer with N invoices of which a third are partly or fully paid, and times GET
/customers/{id} in-process (the time the server spends, without network or browser).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx

from bench.report import percentile, record
from payrequest.app import create_app
from payrequest.config import load_settings
from payrequest.customers.models import Customer
from payrequest.db.migrate import upgrade
from payrequest.invoices.models import Invoice, InvoiceLine
from payrequest.kit.clock import utcnow
from payrequest.ledger.models import Allocation, Credit
from payrequest.users import service as users

PASSWORD = "benchmark password"  # noqa: S105 - a throw-away benchmark account


async def _seed(app: object, invoices: int) -> int:
    sessions = app.state.runtime.sessions  # type: ignore[attr-defined]
    today = utcnow().date()
    async with sessions() as session, session.begin():
        await users.create_user(
            session, email="bench@example.no", password=PASSWORD, role="owner", locale="nb"
        )
        customer = Customer(
            number="B-1", name="Benchmark Bakeri AS", phone="+4791234567", country="NO", locale="nb"
        )
        session.add(customer)
        await session.flush()
        credit = Credit(customer_id=customer.id, currency="NOK", amount=10**9, reason="bench")
        session.add(credit)
        await session.flush()
        for n in range(invoices):
            issue = today - timedelta(days=n % 400)
            invoice = Invoice(
                number=f"B{n:06d}",
                customer_id=customer.id,
                issue_date=issue,
                due_date=issue + timedelta(days=14),
                currency="NOK",
                total=125_000,
                lines=[
                    InvoiceLine(
                        position=1,
                        description="Arbeid",
                        quantity_milli=2000,
                        unit_price=50_000,
                        vat_rate_bp=2500,
                        net_amount=100_000,
                        vat_amount=25_000,
                    )
                ],
            )
            session.add(invoice)
            if n % 3 == 0:
                await session.flush()
                paid = 125_000 if n % 2 else 40_000
                session.add(
                    Allocation(
                        invoice_id=invoice.id, currency="NOK", amount=paid, credit_id=credit.id
                    )
                )
        return int(customer.id)


async def _run(database: str, invoices: int, requests: int, tmp: Path) -> list[float]:
    settings = load_settings(database_url=database, var_dir=tmp, public_url="http://bench")
    app = create_app(settings, run_worker=False)
    customer_id = await _seed(app, invoices)
    # What the app's lifespan does once start-up is done (ASGITransport runs no lifespan).
    gc.collect()
    gc.freeze()
    transport = httpx.ASGITransport(app=app)
    timings: list[float] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        login = await http.get("/login")
        token = login.text.split('name="csrf" value="')[1].split('"')[0]
        await http.post(
            "/login", data={"email": "bench@example.no", "password": PASSWORD, "csrf": token}
        )
        for i in range(requests + 5):
            started = time.perf_counter()
            response = await http.get(f"/customers/{customer_id}")
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.status_code
            if i >= 5:  # warm-up
                timings.append(elapsed)
    await app.state.runtime.close()
    return timings


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench card")
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--database", default="", help="default: a fresh SQLite file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        database = args.database or f"sqlite:///{tmp}/bench.db"
        upgrade(database)
        timings = asyncio.run(_run(database, args.invoices, args.requests, Path(tmp)))
    kind = database.split(":", 1)[0]
    p50, p95, p99 = (percentile(timings, q) for q in (50, 95, 99))
    verdict = "meets" if p95 <= 100 else "MISSES"
    record(
        f"P9 customer card, {args.invoices} invoices ({kind})",
        [
            f"- {len(timings)} requests after 5 warm-up: p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
            f"p99 {p99:.1f} ms (server time in-process)",
            f"- target p95 ≤ 100 ms: {verdict}",
        ],
    )
