"""What an operator watches over HTTP: request ids, /metrics (who may read it, what it counts,
the job queue and webhook inbox read from the database) and /readyz, against the real app."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.app import create_app
from payrequest.config import load_settings
from payrequest.db.migrate import head_revision, readiness
from payrequest.db.session import create_engine
from payrequest.inbound.models import InboundEvent
from payrequest.jobs.models import Job
from payrequest.kit.clock import utcnow
from tests.integration.conftest import migrate_to
from tests.staff import BASE, app_client


@pytest.fixture
async def client(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(database_url, tmp_path) as http:
        yield http


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text, None when absent."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{.*\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(match.group(3))
    return None


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "lb-1234.abc"})
    assert given.headers["x-request-id"] == "lb-1234.abc"
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith space"})
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    other = await client.get("/login")
    assert other.headers["x-request-id"] != made.headers["x-request-id"]


async def test_metrics_count_requests_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    before = (
        sample(
            (await client.get("/metrics")).text,
            "payrequest_http_requests_total",
            method="GET",
            route="/customers/{customer_id}",
            status="303",
        )
        or 0.0
    )
    for customer in (1, 2, 3):
        assert (await client.get(f"/customers/{customer}")).status_code == 303
    await client.get("/no/such/page/4791834562")
    forged = await client.post("/webhooks/vipps", content=b"{}")
    assert forged.status_code == 401
    text = (await client.get("/metrics")).text
    assert (
        sample(
            text,
            "payrequest_http_requests_total",
            method="GET",
            route="/customers/{customer_id}",
            status="303",
        )
        == before + 3
    )
    assert (
        sample(
            text, "payrequest_http_requests_total", method="GET", route="unmatched", status="404"
        )
        or 0
    ) >= 1
    assert "4791834562" not in text and "/customers/1" not in text
    assert (
        sample(text, "payrequest_webhooks_total", provider="vipps", outcome="rejected") or 0
    ) >= 1
    # A provider we do not have is counted, but not under a label of its own making.
    assert (await client.post("/webhooks/x4791834562", content=b"{}")).status_code == 404
    text = (await client.get("/metrics")).text
    assert "x4791834562" not in text
    assert (
        sample(text, "payrequest_webhooks_total", provider="unknown", outcome="rejected") or 0
    ) >= 1
    assert (
        sample(
            text,
            "payrequest_http_request_duration_seconds_count",
            method="GET",
            route="/customers/{customer_id}",
        )
        or 0
    ) >= 3
    assert sample(text, "payrequest_database_up") == 1.0


async def test_metrics_read_the_job_queue_and_webhook_inbox(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    now = utcnow()
    async with sessions() as session, session.begin():
        session.add_all(
            [
                Job(
                    kind="capture", payload={}, status="queued", run_at=now - timedelta(seconds=90)
                ),
                Job(kind="capture", payload={}, status="queued", run_at=now + timedelta(hours=1)),
                Job(kind="poll", payload={}, status="dead", run_at=now),
            ]
        )
        for number, lag in enumerate((1, 2, 30)):
            session.add(
                InboundEvent(
                    provider="vipps",
                    dedupe_key=f"applied-{number}",
                    body="{}",
                    headers={},
                    status="applied",
                    received_at=now - timedelta(seconds=60),
                    applied_at=now - timedelta(seconds=60 - lag),
                )
            )
        session.add(
            InboundEvent(
                provider="vipps",
                dedupe_key="waiting",
                body="{}",
                headers={},
                status="received",
                received_at=now - timedelta(seconds=40),
            )
        )
    text = (await client.get("/metrics")).text
    assert sample(text, "payrequest_jobs_queued", kind="capture") == 2
    assert sample(text, "payrequest_jobs_due", kind="capture") == 1
    assert 89 <= (sample(text, "payrequest_jobs_oldest_due_age_seconds", kind="capture") or 0) < 120
    assert sample(text, "payrequest_jobs_dead", kind="poll") == 1
    assert sample(text, "payrequest_webhook_events", status="applied") == 3
    assert sample(text, "payrequest_webhook_events", status="received") == 1
    assert 39 <= (sample(text, "payrequest_webhook_oldest_unapplied_age_seconds") or 0) < 70
    assert sample(text, "payrequest_webhook_apply_lag_seconds", quantile="0.5") == pytest.approx(
        2, abs=0.01
    )
    assert sample(text, "payrequest_webhook_apply_lag_seconds", quantile="1") == pytest.approx(
        30, abs=0.01
    )


async def test_metrics_only_for_loopback_or_the_token(
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = create_app(load_settings(database_url=database_url, var_dir=tmp_path, public_url=BASE))
    try:
        far = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
        near = httpx.ASGITransport(app=app, client=("127.0.0.1", 4000))
        async with httpx.AsyncClient(transport=far, base_url=BASE) as http:
            assert (await http.get("/metrics")).status_code == 403
        async with httpx.AsyncClient(transport=near, base_url=BASE) as http:
            assert (await http.get("/metrics")).status_code == 200
            # Through a proxy on the same host: not loopback's own request.
            proxied = await http.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
            assert proxied.status_code == 403
        monkeypatch.setenv("PAYREQUEST_METRICS_TOKEN", "a-long-metrics-token")
        async with httpx.AsyncClient(transport=far, base_url=BASE) as http:
            assert (await http.get("/metrics")).status_code == 401
            wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            right = await http.get(
                "/metrics", headers={"Authorization": "Bearer a-long-metrics-token"}
            )
            assert right.status_code == 200
            assert "payrequest_http_requests_total" in right.text
    finally:
        await app.state.runtime.close()


async def test_readyz_when_migrated(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"
    assert response.json()["migration"] == response.json()["head"]


async def test_readyz_names_the_fix_when_not_migrated_or_unreachable(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    for url, problem, reason in [
        (f"sqlite:///{empty}", "not_migrated", "database not migrated: run `payrequest migrate`"),
        (
            "postgresql://nobody:hunter2@127.0.0.1:1/none",
            "unreachable",
            "cannot reach the database at postgresql://nobody:***@127.0.0.1:1/none: "
            "connection refused",
        ),
    ]:
        app = create_app(load_settings(database_url=url, var_dir=tmp_path, public_url=BASE))
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
                response = await http.get("/readyz")
                metrics = await http.get("/metrics")
        finally:
            await app.state.runtime.close()
        assert response.status_code == 503
        assert response.json()["database"] == problem
        assert response.json()["reason"] == reason
        assert "hunter2" not in response.text
        if problem == "unreachable":
            assert sample(metrics.text, "payrequest_database_up") == 0.0


async def test_readiness_tells_an_older_and_a_newer_schema_apart(fresh_url: str) -> None:
    migrate_to(fresh_url, "0009")
    engine = create_engine(fresh_url)
    try:
        older = await readiness(engine, url=fresh_url)
        assert older.problem == "not_migrated"
        assert older.reason == (
            f"database not migrated to this version (at 0009, newest {head_revision()}): "
            "run `payrequest migrate`"
        )
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        newer = await readiness(engine, url=fresh_url)
        assert newer.problem == "newer"
        assert "install the newer payrequest" in newer.reason
    finally:
        await engine.dispose()
