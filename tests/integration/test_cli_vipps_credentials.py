"""`payrequest vipps check` against a standalone emulator that knows other credentials: the
refusal is said in plain words (which key is wrong, what to set), the way Azure AD tells it —
not "Unauthorized · HTTP 401"."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests import servers
from tests.servers import PAYREQUEST


def _emulator(tmp_path: Path, port: int) -> subprocess.Popen[str]:
    process = servers.start(tmp_path, "sandbox", "--port", str(port), "--state", "")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/faults", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.2)
    servers.stop(process)
    raise AssertionError("the emulator did not start")


def _check(tmp_path: Path, port: int, **settings: str) -> subprocess.CompletedProcess[str]:
    env = servers.payrequest_env(
        tmp_path, PAYREQUEST_VIPPS__BASE_URL=f"http://127.0.0.1:{port}", **settings
    )
    subprocess.run([*PAYREQUEST, "migrate"], env=env, cwd=tmp_path, check=True, timeout=120)
    return subprocess.run(
        [*PAYREQUEST, "vipps", "check", "--wait", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({"PAYREQUEST_VIPPS__CLIENT_SECRET": "not-the-secret"}, "The client secret is invalid"),
        ({"PAYREQUEST_VIPPS__CLIENT_ID": "someone-else"}, "does not know this client id"),
    ],
)
def test_wrong_credentials_are_named(tmp_path: Path, settings: dict[str, str], said: str) -> None:
    port = servers.free_port()
    emulator = _emulator(tmp_path, port)
    try:
        checked = _check(tmp_path, port, **settings)
    finally:
        servers.stop(emulator)
    assert checked.returncode == 1
    assert said in checked.stdout, checked.stdout + checked.stderr
    assert "Unauthorized" not in checked.stdout
