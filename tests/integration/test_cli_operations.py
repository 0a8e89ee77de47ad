"""The command line as an operator meets it when something is wrong: a database that is not
there, not migrated or down gives one line naming the fix (never a traceback, never the
password); the worker waits for it with growing pauses; backups of SQLite while in use."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from payrequest.db.session import create_engine, session_factory
from tests import servers
from tests.factories import make_customer, make_invoice
from tests.servers import PAYREQUEST

DOWN = "postgresql://nobody:hunter2-secret@127.0.0.1:1/none"
DOWN_SHOWN = "postgresql://nobody:***@127.0.0.1:1/none"


def _run(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PAYREQUEST, *args],
        env=servers.payrequest_env(tmp_path, **extra),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_migrate_refuses_a_sqlite_folder_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "dir"
    result = _run(tmp_path, "migrate", PAYREQUEST_DATABASE_URL=f"sqlite:///{missing}/x.db")
    assert result.returncode == 1
    assert _lines(result.stderr) == [
        f"error: cannot create the database at sqlite:///{missing}/x.db: the folder {missing} "
        "does not exist (create it, or correct PAYREQUEST_DATABASE_URL)"
    ]
    assert not (tmp_path / "nonexistent").exists()


def test_migrate_never_prints_the_password(tmp_path: Path, postgresql_url: str) -> None:
    # The test server trusts local connections, so any password is accepted.
    with_password = make_url(postgresql_url).set(password="hunter2-secret")
    url = with_password.render_as_string(hide_password=False)
    result = _run(tmp_path, "migrate", PAYREQUEST_DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert with_password.render_as_string(hide_password=True) in result.stdout
    down = _run(tmp_path, "migrate", PAYREQUEST_DATABASE_URL=DOWN)
    assert down.returncode == 1
    assert _lines(down.stderr) == [
        f"error: cannot reach the database at {DOWN_SHOWN}: connection refused"
    ]


def test_serve_and_demo_stop_with_one_line_naming_the_fix(tmp_path: Path) -> None:
    port = str(servers.free_port())
    unmigrated = _run(tmp_path, "serve", "--port", port)
    assert unmigrated.returncode == 1
    assert _lines(unmigrated.stderr) == ["error: database not migrated: run `payrequest migrate`"]
    assert not (tmp_path / "payrequest.db").exists()  # not created by looking
    for command in ("serve", "demo"):
        down = _run(tmp_path, command, "--port", port, PAYREQUEST_DATABASE_URL=DOWN)
        assert down.returncode == 1, down.stdout
        assert _lines(down.stderr) == [
            f"error: cannot reach the database at {DOWN_SHOWN}: connection refused"
        ], down.stderr
        assert "hunter2" not in down.stdout + down.stderr


def test_worker_waits_for_a_down_database_one_line_per_try_with_growing_pauses(
    tmp_path: Path,
) -> None:
    worker = servers.start(tmp_path, "worker", PAYREQUEST_DATABASE_URL=DOWN)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(worker.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    deadline = time.monotonic() + 60
    while sum("retrying in" in line for line in lines) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # the next try is 4 s away: nothing more may come meanwhile
    worker.terminate()
    worker.wait(timeout=20)
    reader.join(timeout=5)
    output = "".join(lines)
    tries = [line for line in lines if "retrying in" in line]
    assert len(tries) == 3, output
    assert "retrying in 1 s (attempt 1)" in tries[0]
    assert "retrying in 2 s (attempt 2)" in tries[1]
    assert "retrying in 4 s (attempt 3)" in tries[2]
    assert f"cannot reach the database at {DOWN_SHOWN}: connection refused" in tries[0]
    times = [datetime.fromisoformat(re.search(r"time=(\S+)", line)[1]) for line in tries]  # type: ignore[index]
    assert (times[1] - times[0]).total_seconds() >= 0.9
    assert (times[2] - times[1]).total_seconds() >= 1.9
    assert "Traceback" not in output and "hunter2" not in output
    assert len(_lines(output)) <= 6, output


def test_worker_serves_health_and_metrics_on_its_port(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    port = servers.free_port()
    worker = servers.start(tmp_path, "worker", PAYREQUEST_WORKER_HEALTH_PORT=str(port))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and worker.poll() is None
                time.sleep(0.2)
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert metrics.status_code == 200
        assert "payrequest_database_up 1.0" in metrics.text
    finally:
        output = servers.stop(worker)
    assert worker.returncode == 0, output


async def _seed(url: str) -> None:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            customer = await make_customer(session, name="Fjordbakeriet AS")
            await make_invoice(session, customer, amount=12_500, number="INV-1")
    finally:
        await engine.dispose()


def test_backup_copies_sqlite_while_in_use(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    url = f"sqlite:///{tmp_path / 'payrequest.db'}"
    asyncio.run(_seed(url))
    live = sqlite3.connect(tmp_path / "payrequest.db")  # another process reading meanwhile
    live.execute("BEGIN")
    live.execute("SELECT count(*) FROM invoices").fetchone()
    try:
        result = _run(tmp_path, "backup", "--to", str(tmp_path / "copy.db"))
    finally:
        live.close()
    assert result.returncode == 0, result.stderr
    assert "integrity ok, 1 customers, 1 invoices, 0 payment requests" in result.stdout
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("SELECT name FROM customers").fetchall() == [("Fjordbakeriet AS",)]
    assert copy.execute("SELECT number FROM invoices").fetchall() == [("INV-1",)]
    copy.close()
    again = _run(tmp_path, "backup", "--to", str(tmp_path / "copy.db"))
    assert again.returncode == 1
    assert _lines(again.stderr) == [
        f"error: {tmp_path / 'copy.db'} exists already; choose a new file name"
    ]
    postgres = _run(
        tmp_path, "backup", "--to", str(tmp_path / "pg.db"), PAYREQUEST_DATABASE_URL=DOWN
    )
    assert postgres.returncode == 1 and "pg_dump" in postgres.stderr
