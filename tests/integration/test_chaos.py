"""Chaos on PostgreSQL, as real processes: kill -9 of the web process and of the worker during
a webhook storm (half the deliveries duplicated, a third reordered) with provider faults (a
fifth of the calls time out, some answer 5xx). Afterwards the money adds up:

- every request is paid exactly once: one CAPTURED at the provider, of the whole amount;
- allocations + credit = captured for every payment, and no invoice is over-allocated;
- every event the web process acknowledged is applied, and every request paid, within 60 s
  of the last restart; no job is a dead letter.

Both ways of applying webhooks: inline (in the webhook's request) and batched (the request
stores, the worker's drain applies).

Bounded: 12 requests, four kills, loopback only; the randomness (the kill plan, the
emulator's faults) is seeded. The emulator runs as a process of its own (`payrequest
sandbox`), so its webhook retries outlive the web process it calls.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.config import load_settings
from payrequest.db.session import create_engine, session_factory
from payrequest.inbound.models import InboundEvent
from payrequest.invoices.models import Invoice
from payrequest.jobs.models import Job
from payrequest.ledger.models import Allocation, Credit
from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.providers.base import ProviderError
from payrequest.providers.vipps.client import RetryPolicy
from payrequest.providers.vipps.factory import build_vipps
from payrequest.providers.vipps.provider import VippsProvider
from tests import servers
from tests.factories import make_customer, make_invoice
from tests.integration.test_multiprocess import fresh_postgresql  # noqa: F401 - a fixture

pytestmark = pytest.mark.postgres

SEED = 13
REQUESTS = 12
KILLS = 4
SETTLED_WITHIN = 60.0  # seconds after the last restart (issue 13)
FAULTS = {
    "timeout_rate": 0.2,
    "timeout_mode": "hang",
    "hang_seconds": 8.0,
    "error_rate": 0.05,
    "webhook_duplicate_rate": 0.5,
    "webhook_reorder_rate": 0.3,
}
Sessions = async_sessionmaker[AsyncSession]


@dataclass
class Processes:
    """The emulator, one web process and one worker, each restartable; output to files."""

    tmp_path: Path
    env: dict[str, str]
    emulator_port: int
    web_port: int
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    starts: dict[str, int] = field(default_factory=dict)

    def args(self, name: str) -> list[str]:
        return {
            "emulator": [
                "sandbox",
                *("--port", str(self.emulator_port), "--state", "", "--seed", str(SEED)),
                *("--retry-schedule", "1,1,2,2,3,5,5,10,10", "--no-rate-limits"),
            ],
            "web": ["serve", "--no-worker", "--port", str(self.web_port)],
            "worker": ["worker"],
        }[name]

    def start(self, name: str) -> None:
        self.starts[name] = self.starts.get(name, 0) + 1
        log = (self.tmp_path / f"{name}-{self.starts[name]}.log").open("wb")
        self.running[name] = subprocess.Popen(
            [*servers.PAYREQUEST, *self.args(name)],
            env=servers.payrequest_env(self.tmp_path, **self.env),
            cwd=self.tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def kill(self, name: str) -> None:
        process = self.running[name]
        process.kill()  # SIGKILL: no shutdown, no release of leases, no answers
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.running.values():
            process.terminate()
        for process in self.running.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def output(self) -> str:
        logs = sorted(self.tmp_path.glob("*.log"))
        return "\n".join(f"--- {p.name} ---\n{p.read_text(errors='replace')[-3000:]}" for p in logs)


async def _answering(url: str, process: subprocess.Popen[bytes], within: float = 30) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=1) as http:
        while time.monotonic() < deadline:
            assert process.poll() is None, f"exited early ({process.returncode})"
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {within} s")


@pytest.fixture
def processes(
    fresh_postgresql: str,  # noqa: F811
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Processes]:
    """`request.param`: how webhooks are applied (PAYREQUEST_INBOUND__APPLY), inline by default."""
    emulator_port, web_port = servers.free_port(), servers.free_port()
    env = {
        "PAYREQUEST_INBOUND__APPLY": getattr(request, "param", "inline"),
        "PAYREQUEST_DATABASE_URL": fresh_postgresql,
        "PAYREQUEST_SECRET_KEY": secrets.token_hex(32),
        "PAYREQUEST_PROVIDER_MODE": "sandbox",
        "PAYREQUEST_PUBLIC_URL": f"http://127.0.0.1:{web_port}",
        "PAYREQUEST_VIPPS__BASE_URL": f"http://127.0.0.1:{emulator_port}",
    }
    migrated = subprocess.run(
        [*servers.PAYREQUEST, "migrate"],
        env=servers.payrequest_env(tmp_path, **env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    procs = Processes(tmp_path, env, emulator_port, web_port)
    try:
        yield procs
    finally:
        procs.stop_all()
        print(procs.output())


@pytest.fixture
async def sessions(fresh_postgresql: str) -> AsyncIterator[Sessions]:  # noqa: F811
    engine = create_engine(fresh_postgresql)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def provider(processes: Processes, tmp_path: Path) -> AsyncIterator[VippsProvider]:
    """The test's own client of the emulator (to approve and to read what it holds)."""
    settings = load_settings(
        database_url="sqlite://",
        provider_mode="sandbox",
        var_dir=tmp_path,
        public_url=processes.env["PAYREQUEST_PUBLIC_URL"],
        vipps={"base_url": processes.env["PAYREQUEST_VIPPS__BASE_URL"]},
    )
    vipps = build_vipps(settings, version="chaos", retry=RetryPolicy(attempts=8, base_delay=0.1))
    yield vipps
    await vipps.close()


async def _count(sessions: Sessions, statement: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(statement) or 0)


async def _wait_for(
    sessions: Sessions, statement: Any, expected: int, within: float, what: str
) -> None:
    """Until `statement` counts `expected`, for at most `within` seconds."""
    deadline = time.monotonic() + within
    while await _count(sessions, statement) != expected:
        assert time.monotonic() < deadline, f"timed out after {within} s waiting for {what}"
        await asyncio.sleep(0.2)


async def _create_requests(sessions: Sessions, provider: VippsProvider) -> list[str]:
    references = []
    async with sessions() as session, session.begin():
        for n in range(REQUESTS):
            customer = await make_customer(session)
            invoice = await make_invoice(session, customer, amount=10_000 + 100 * n)
            request = await create_request(  # queues its send job: the worker sends it
                session,
                data=NewPaymentRequest(customer_id=customer.id, invoice_ids=[invoice.id]),
                lifetime=Lifetime(60, provider.capabilities),
            )
            references.append(request.reference)
    return references


async def _approve(provider: VippsProvider, reference: str) -> None:
    """Force-approve as the test environment allows; an earlier try's lost answer (6230:
    already approved) counts as done."""
    for _ in range(10):
        try:
            response = await provider.client.call(
                "POST",
                f"/epayment/v1/test/payments/{reference}/approve",
                json={"customer": {"phoneNumber": "4791234567"}},
            )
        except ProviderError:  # a timeout or 5xx of the faults: approve again
            continue
        if response.status_code == 200 or '"6230"' in response.text:
            return
    raise AssertionError(f"could not approve {reference}")


async def _storm(procs: Processes, provider: VippsProvider, references: list[str]) -> float:
    """In waves: approve a few requests, and while their webhooks and captures are on their
    way, kill -9 the web process, the worker or both, then start them again. Returns when the
    last restarted process was back (time.monotonic())."""
    plan = random.Random(SEED)
    targets = ["web", "worker", "both", plan.choice(["web", "worker"])][:KILLS]
    wave = -(-len(references) // len(targets))
    approvals = []
    restarted = time.monotonic()
    for n, target in enumerate(targets):
        group = references[n * wave : (n + 1) * wave]
        approvals.append(asyncio.gather(*(_approve(provider, r) for r in group)))
        await asyncio.sleep(plan.uniform(0.2, 1.0))  # in flight: webhooks, captures
        names = ["web", "worker"] if target == "both" else [target]
        for name in names:
            procs.kill(name)
        await asyncio.sleep(plan.uniform(0.2, 1.0))  # down for a moment: deliveries fail
        for name in names:
            procs.start(name)
        if "web" in names:
            await _answering(f"http://127.0.0.1:{procs.web_port}/healthz", procs.running["web"])
        restarted = time.monotonic()
    await asyncio.gather(*approvals)
    return restarted


@pytest.mark.parametrize("processes", ["inline", "batched"], indirect=True)
async def test_kill_9_of_web_and_worker_during_a_webhook_storm_keeps_the_money_right(
    processes: Processes, sessions: Sessions, provider: VippsProvider
) -> None:
    started = time.monotonic()
    procs = processes
    procs.start("emulator")
    await _answering(f"http://127.0.0.1:{procs.emulator_port}/faults", procs.running["emulator"])
    procs.start("web")
    procs.start("worker")
    await _answering(f"http://127.0.0.1:{procs.web_port}/healthz", procs.running["web"])
    references = await _create_requests(sessions, provider)
    pending = select(func.count(PaymentRequest.id)).where(PaymentRequest.status == "pending")
    # (the web process registered its webhook at start, before it answered /healthz)
    await _wait_for(sessions, pending, REQUESTS, 30, "every request sent")
    async with httpx.AsyncClient() as http:
        answer = await http.patch(f"http://127.0.0.1:{procs.emulator_port}/faults", json=FAULTS)
        assert answer.status_code == 200, answer.text

    print(f"\nready to storm after {time.monotonic() - started:.1f} s")
    restarted = await _storm(procs, provider, references)
    print(f"storm over after {time.monotonic() - started:.1f} s")

    paid = select(func.count(PaymentRequest.id)).where(PaymentRequest.status == "paid")
    unapplied = select(func.count(InboundEvent.id)).where(InboundEvent.status != "applied")
    try:
        await _wait_for(sessions, paid, REQUESTS, SETTLED_WITHIN, "all paid")
        left = SETTLED_WITHIN - (time.monotonic() - restarted)
        await _wait_for(sessions, unapplied, 0, max(left, 0.5), "events applied")
    finally:
        settled = time.monotonic() - restarted
        print(f"settled {settled:.1f} s after the last restart; {procs.starts} starts")
    async with httpx.AsyncClient() as http:  # read the provider's side without faults
        off = {"timeout_rate": 0.0, "error_rate": 0.0}
        await http.patch(f"http://127.0.0.1:{procs.emulator_port}/faults", json=off)

    async with sessions() as session:
        requests = (await session.scalars(select(PaymentRequest))).all()
        for request in requests:
            events = [e["name"] for e in await _events(provider, request.reference)]
            assert events.count("CAPTURED") == 1, (request.reference, events)
            assert events.count("AUTHORIZED") == 1, (request.reference, events)
            assert request.captured_amount == request.amount, request.reference
            allocated = await session.scalar(
                select(func.coalesce(func.sum(Allocation.amount), 0)).where(
                    Allocation.payment_request_id == request.id
                )
            )
            credit = await session.scalar(
                select(func.coalesce(func.sum(Credit.amount), 0)).where(
                    Credit.payment_request_id == request.id
                )
            )
            assert int(allocated or 0) + int(credit or 0) == request.captured_amount, request
        over = await session.execute(
            select(Invoice.id)
            .join(Allocation, Allocation.invoice_id == Invoice.id)
            .group_by(Invoice.id, Invoice.total)
            .having(func.sum(Allocation.amount) > Invoice.total)
        )
        assert over.all() == []
        dead = (await session.scalars(select(Job.last_error).where(Job.status == "dead"))).all()
        assert dead == []
        received = await session.scalar(select(func.count(InboundEvent.id)))
    print(f"{received} events stored once each; {time.monotonic() - started:.1f} s in all")
    assert procs.starts["web"] >= 3 and procs.starts["worker"] >= 3


async def _events(provider: VippsProvider, reference: str) -> list[dict[str, Any]]:
    response = await provider.client.call("GET", f"/epayment/v1/payments/{reference}/events")
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()
    return events
