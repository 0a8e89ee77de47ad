"""Migration 0006: job kinds spelt `<package>.<verb>`. Jobs queued under the old names before
the upgrade carry the new names after it, which the worker's handlers know; periodic dedupe
keys follow; the downgrade gives the old names back. On both kinds of database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from payrequest.config import load_settings
from payrequest.db.session import create_engine
from payrequest.runtime import build_runtime
from tests.integration.conftest import downgrade_to, migrate_to

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# (kind, dedupe key) before -> after
OLD = [
    ("payment_request.send", "send:pr-a"),
    ("payment_request.capture", "capture:pr-a"),
    ("payment_request.poll", "periodic:payment_request.poll:1796040000"),
    ("refund.send", "refund:1"),
    ("automations.action", "flowrun-1-action-0"),
    ("automations.dispatch", "periodic:automations.dispatch:1796040000"),
    ("inbound.apply", "inbound:1"),
    ("jobs.purge", "periodic:jobs.purge:2993400"),
]
NEW = [
    ("payment_requests.send", "send:pr-a"),
    ("payment_requests.capture", "capture:pr-a"),
    ("payment_requests.poll", "periodic:payment_requests.poll:1796040000"),
    ("payment_requests.refund", "refund:1"),
    ("automations.run_action", "flowrun-1-action-0"),
    ("automations.dispatch", "periodic:automations.dispatch:1796040000"),
    ("inbound.apply", "inbound:1"),
    ("jobs.purge", "periodic:jobs.purge:2993400"),
]


async def _jobs(url: str) -> list[tuple[str, str]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT kind, dedupe_key FROM jobs ORDER BY id"))
            return [(kind, key) for kind, key in rows]
    finally:
        await engine.dispose()


async def test_queued_jobs_run_under_their_new_kinds(fresh_url: str, tmp_path: Path) -> None:
    migrate_to(fresh_url, "0005")
    engine = create_engine(fresh_url)
    try:
        async with engine.begin() as connection:
            for kind, key in OLD:
                await connection.execute(
                    text(
                        "INSERT INTO jobs (kind, payload, dedupe_key, status, run_at, attempts,"
                        " max_attempts, created_at, updated_at)"
                        " VALUES (:kind, '{}', :key, 'queued', :now, 0, 20, :now, :now)"
                    ),
                    {"kind": kind, "key": key, "now": NOW},
                )
    finally:
        await engine.dispose()
    runtime = build_runtime(load_settings(database_url=fresh_url, var_dir=tmp_path))
    try:
        assert [kind for kind, _ in OLD if kind not in runtime.handlers] == [
            "payment_request.send",
            "payment_request.capture",
            "payment_request.poll",
            "refund.send",
            "automations.action",
        ]
        migrate_to(fresh_url, "0006")
        assert await _jobs(fresh_url) == NEW
        assert all(kind in runtime.handlers for kind, _ in NEW)
        poll = next(s for s in runtime.handlers.periodic_specs if s.kind.endswith(".poll"))
        assert poll.dedupe_key(1796040000) == NEW[2][1]
    finally:
        await runtime.close()
    downgrade_to(fresh_url, "0005")
    assert await _jobs(fresh_url) == OLD
