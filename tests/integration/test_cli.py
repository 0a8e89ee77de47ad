"""The `payrequest` command as an operator runs it: real processes, real databases."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from tests import servers
from tests.servers import PAYREQUEST


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


def test_version_and_help(tmp_path: Path) -> None:
    version = _run(tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.startswith("payrequest ")
    for command in ("serve", "demo", "migrate", "users", "orgs"):
        helped = _run(tmp_path, command, "--help")
        assert helped.returncode == 0, helped.stderr
        assert "Usage" in helped.stdout


def test_bad_configuration_fails_with_one_clear_line(tmp_path: Path) -> None:
    result = _run(tmp_path, "migrate", PAYREQUEST_PROVIDER_MODE="live")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "configuration error: PAYREQUEST_PROVIDER_MODE: Input should be 'sandbox', 'test' or "
        "'production'"
    ]


def test_migrate_then_create_users(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    assert _run(tmp_path, "migrate").returncode == 0  # safe to repeat
    created = _run(
        tmp_path,
        "users",
        "create",
        "--email",
        "ola@example.no",
        "--role",
        "owner",
        "--password",
        "a long password",
    )
    assert created.returncode == 0, created.stderr
    assert "Created owner ola@example.no" in created.stdout
    again = _run(
        tmp_path,
        "users",
        "create",
        "--email",
        "ola@example.no",
        "--password",
        "another one!",
    )
    assert again.returncode == 1
    assert "ola@example.no is already a member of" in again.stderr


def _start_demo(tmp_path: Path, port: int, **extra: str) -> subprocess.Popen[str]:
    return servers.start(tmp_path, "demo", "--port", str(port), **extra)


def test_demo_serves_seeded_app_and_a_second_run_does_not_duplicate(tmp_path: Path) -> None:
    port = servers.free_port()
    first = _start_demo(tmp_path, port)
    try:
        servers.wait_healthy(port, first)
        login = httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
        assert login.status_code == 200 and "Sign in" in login.text
    finally:
        out1 = servers.stop(first)
    assert "Seeded 9 customers" in out1
    assert "admin@payrequest.local" in out1 and "shown only this once" in out1
    assert f"http://127.0.0.1:{port}/login" in out1

    second = _start_demo(tmp_path, port)
    try:
        servers.wait_healthy(port, second)
    finally:
        out2 = servers.stop(second)
    assert "Demo data already present" in out2
    assert "shown only this once" not in out2


def test_demo_uses_admin_credentials_from_the_environment(tmp_path: Path) -> None:
    port = servers.free_port()
    process = _start_demo(
        tmp_path,
        port,
        PAYREQUEST_ADMIN_EMAIL="boss@example.no",
        PAYREQUEST_ADMIN_PASSWORD="from the environment",
    )
    try:
        servers.wait_healthy(port, process)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            html = http.get("/login").text
            token = html.split('name="csrf" value="')[1].split('"')[0]
            signed_in = http.post(
                "/login",
                data={
                    "email": "boss@example.no",
                    "password": "from the environment",
                    "csrf": token,
                },
            )
            assert signed_in.status_code == 303
            assert "Fjordbakeriet AS" in http.get("/customers").text
    finally:
        out = servers.stop(process)
    assert "from PAYREQUEST_ADMIN_PASSWORD" in out
