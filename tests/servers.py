"""Run `payrequest` as a real process on a free loopback port, for CLI and browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

PAYREQUEST = [sys.executable, "-m", "payrequest"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def payrequest_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without PAYREQUEST_* settings, on a private SQLite file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYREQUEST_")}
    env["PAYREQUEST_DATABASE_URL"] = f"sqlite:///{tmp_path / 'payrequest.db'}"
    env["PAYREQUEST_VAR_DIR"] = str(tmp_path / "var")
    env.update(extra)
    return env


def start(tmp_path: Path, *args: str, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*PAYREQUEST, *args],
        env=payrequest_env(tmp_path, **extra),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_healthy(port: int, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"payrequest exited early:\n{output}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"payrequest did not become healthy within {timeout} s")


def stop(process: subprocess.Popen[str]) -> str:
    """Stop the process and return everything it printed."""
    process.terminate()
    try:
        out, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out


@contextmanager
def running_demo(tmp_path: Path, **extra: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`payrequest demo` on a free port until the block ends: (base URL, process)."""
    port = free_port()
    process = start(tmp_path, "demo", "--port", str(port), **extra)
    try:
        wait_healthy(port, process)
        yield f"http://127.0.0.1:{port}", process
    finally:
        stop(process)
