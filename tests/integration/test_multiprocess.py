"""Scale-out on PostgreSQL, as real processes: two web processes (`serve --no-worker`) and one
`payrequest worker`. A browser-side SSE client on web B sees a payment that was sent through web
A, approved on A's emulator, applied from A's webhook and captured by the worker process.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from payrequest.db.pg_notify import plain_dsn
from payrequest.db.session import create_engine, session_factory
from payrequest.jobs.models import Job
from payrequest.payment_requests.apply import CAPTURE_JOB
from payrequest.users import service as users
from tests import servers
from tests.conftest import IN_CI, POSTGRES_ADMIN_URL
from tests.factories import make_customer, make_invoice

pytestmark = pytest.mark.postgres

EMAIL = "ops@example.no"
PASSWORD = "correct horse battery"
MSISDN = "4791234567"
SEEN_WITHIN = 10.0  # seconds from the approval to B's stream delivering payment_request.paid


@pytest.fixture
def fresh_postgresql() -> Iterator[str]:
    """A database of its own (the processes see only what this test wrote)."""
    name = f"payrequest_mp_{uuid.uuid4().hex[:10]}"
    admin = plain_dsn(POSTGRES_ADMIN_URL)

    async def execute(statement: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    try:
        asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc}", pytrace=False)
        pytest.skip(
            f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({exc}); SQLite cannot "
            "be shared by several processes, so this test needs PostgreSQL"
        )
    yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _seed(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            owner = await users.create_user(session, email=EMAIL, password=PASSWORD, role="owner")
            owner.is_operator = True  # approves on the emulator's phone, which is the operator's
            customer = await make_customer(session, phone="+47 912 34 567")
            invoice = await make_invoice(session, customer, amount=125_00)
            return customer.id, invoice.id
    finally:
        await engine.dispose()


async def _capture_job(url: str) -> Job:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            return (await session.scalars(select(Job).where(Job.kind == CAPTURE_JOB))).one()
    finally:
        await engine.dispose()


async def _active_registrations(url: str) -> dict[str, int]:
    """Webhook registrations not removed, by provider."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT provider, count(*) FROM webhook_registrations"
                    " WHERE removed_at IS NULL GROUP BY provider"
                )
            )
            return {str(provider): int(count) for provider, count in rows}
    finally:
        await engine.dispose()


async def _reference(url: str) -> str:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            value = await connection.scalar(
                text("SELECT reference FROM payment_requests ORDER BY id DESC LIMIT 1")
            )
            return str(value)
    finally:
        await engine.dispose()


async def _sign_in(http: httpx.AsyncClient) -> str:
    """Sign in as a browser would; returns the CSRF token of the signed-in session."""
    html = (await http.get("/login")).text
    token = html.split('name="csrf" value="')[1].split('"')[0]
    answer = await http.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf": token})
    assert answer.status_code == 303, answer.text
    page = (await http.get("/customers")).text
    return page.split('name="csrf-token" content="')[1].split('"')[0]


async def _read_events(
    http: httpx.AsyncClient, ready: asyncio.Event, events: list[dict[str, Any]]
) -> None:
    async with http.stream("GET", "/events", headers={"Accept": "text/event-stream"}) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        async for line in stream.aiter_lines():
            if line.startswith(": ready"):
                ready.set()
            elif line.startswith("data:"):
                events.append(json.loads(line.removeprefix("data:").strip()))


@pytest.fixture
def processes(
    fresh_postgresql: str, tmp_path: Path
) -> Iterator[tuple[int, int, subprocess.Popen[str]]]:
    url = fresh_postgresql
    port_a, port_b = servers.free_port(), servers.free_port()
    common = {
        "PAYREQUEST_DATABASE_URL": url,
        "PAYREQUEST_SECRET_KEY": secrets.token_hex(32),
        "PAYREQUEST_PROVIDER_MODE": "sandbox",
        # Vipps MobilePay calls web A: the emulator lives inside A, its webhooks come to A.
        "PAYREQUEST_PUBLIC_URL": f"http://127.0.0.1:{port_a}",
        "PAYREQUEST_VIPPS__BASE_URL": f"http://127.0.0.1:{port_a}/sandbox/vipps",
    }
    migrated = subprocess.run(
        [*servers.PAYREQUEST, "migrate"],
        env=servers.payrequest_env(tmp_path, **common),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    web_a = servers.start(tmp_path, "serve", "--no-worker", "--port", str(port_a), **common)
    web_b = servers.start(tmp_path, "serve", "--no-worker", "--port", str(port_b), **common)
    worker = servers.start(tmp_path, "worker", **common)
    try:
        servers.wait_healthy(port_a, web_a)
        servers.wait_healthy(port_b, web_b)
        yield port_a, port_b, worker
    finally:
        outputs = {
            name: servers.stop(p) for name, p in (("A", web_a), ("B", web_b), ("worker", worker))
        }
        for name, out in outputs.items():
            print(f"--- {name} ---\n{out[-4000:]}")


async def _wait_for(check: Any, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_sse_client_on_b_sees_a_payment_sent_through_a_and_captured_by_the_worker(
    processes: tuple[int, int, subprocess.Popen[str]], fresh_postgresql: str
) -> None:
    port_a, port_b, worker = processes
    url = fresh_postgresql
    customer_id, invoice_id = await _seed(url)
    base_a, base_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"

    async with (
        httpx.AsyncClient(base_url=base_b, timeout=30) as browser_b,
        httpx.AsyncClient(base_url=base_a, timeout=30) as browser_a,
    ):
        csrf = await _sign_in(browser_b)
        browser_a.cookies = browser_b.cookies  # one signed session, valid on every process
        ready, events = asyncio.Event(), list[dict[str, Any]]()
        reader = asyncio.create_task(_read_events(browser_b, ready, events))
        try:
            await asyncio.wait_for(ready.wait(), 10)

            sent = await browser_a.post(
                f"/customers/{customer_id}/requests",
                data={"invoice_ids": str(invoice_id), "phone": "+47 912 34 567", "csrf": csrf},
            )
            assert sent.status_code == 303, sent.text
            reference = await _reference(url)

            approved = await browser_a.post(
                f"/sandbox/vipps/phone/{MSISDN}/payments/{reference}/approve"
            )
            assert approved.status_code == 200, approved.text
            approved_at = time.monotonic()

            async def paid_seen() -> bool:
                return any(
                    e["name"] == "payment_request.paid" and e["reference"] == reference
                    for e in events
                )

            await _wait_for(paid_seen, SEEN_WITHIN, "payment_request.paid on B's stream")
            print(f"approval -> paid on B's stream: {time.monotonic() - approved_at:.3f} s")
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    names = [e["name"] for e in events if e["reference"] == reference]
    assert names.index("payment_request.authorized") < names.index("payment_request.paid")
    job = await _capture_job(url)
    assert job.status == "done"
    assert job.locked_by is not None
    assert job.locked_by.split(":")[1] == str(worker.pid), (job.locked_by, worker.pid)
    # Both web processes registered the sandbox webhooks (MobilePay's and the card provider's)
    # at start, one after the other under an advisory lock: the second found the first's
    # registrations and kept them.
    assert await _active_registrations(url) == {"vipps": 1, "stripe": 1}
