"""`payrequest vipps register-webhook` and `payrequest vipps check` against a running server
whose mounted emulator plays Vipps MobilePay (sandbox mode)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests import servers
from tests.servers import PAYREQUEST


def _run(tmp_path: Path, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PAYREQUEST, *args],
        env=servers.payrequest_env(tmp_path, PAYREQUEST_PUBLIC_URL=f"http://127.0.0.1:{port}"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_register_and_check_the_webhook_round_trip(tmp_path: Path) -> None:
    port = servers.free_port()
    assert _run(tmp_path, port, "migrate").returncode == 0
    server = servers.start(
        tmp_path, "serve", "--port", str(port), PAYREQUEST_PUBLIC_URL=f"http://127.0.0.1:{port}"
    )
    try:
        servers.wait_healthy(port, server)
        registered = _run(tmp_path, port, "vipps", "register-webhook")
        assert registered.returncode == 0, registered.stderr
        # The server registered itself at start-up; a second registration is not made.
        assert "registered" in registered.stdout.lower()
        assert f"http://127.0.0.1:{port}/webhooks/vipps" in registered.stdout
        again = _run(tmp_path, port, "vipps", "register-webhook")
        assert "Already registered" in again.stdout
        checked = _run(tmp_path, port, "vipps", "check", "--wait", "15")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "credentials accepted" in checked.stdout
        assert "webhook round trip: received" in checked.stdout
    finally:
        servers.stop(server)


def test_check_fails_clearly_without_a_server(tmp_path: Path) -> None:
    port = servers.free_port()
    assert _run(tmp_path, port, "migrate").returncode == 0
    checked = _run(tmp_path, port, "vipps", "check", "--wait", "1")
    assert checked.returncode == 1
    assert "✗" in checked.stdout
