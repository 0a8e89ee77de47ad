"""`payrequest stripe register-webhook` against a running server whose mounted Stripe emulator
plays Stripe (sandbox mode): the server registered its endpoint at start, the command finds
it and makes no second one; an endpoint whose secret we do not hold is replaced; without a
key the command says which setting is missing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from payrequest.config import SANDBOX_STRIPE_KEY
from tests import servers
from tests.servers import PAYREQUEST


def _run(tmp_path: Path, port: int, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PAYREQUEST, *args],
        env=servers.payrequest_env(
            tmp_path, PAYREQUEST_PUBLIC_URL=f"http://127.0.0.1:{port}", **env
        ),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _endpoints(port: int) -> list[dict[str, object]]:
    answer = httpx.get(
        f"http://127.0.0.1:{port}/sandbox/stripe/v1/webhook_endpoints",
        auth=(SANDBOX_STRIPE_KEY, ""),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert isinstance(data, list)
    return data


def test_register_the_stripe_webhook_once(tmp_path: Path) -> None:
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}/webhooks/stripe"
    assert _run(tmp_path, port, "migrate").returncode == 0
    server = servers.start(
        tmp_path, "serve", "--port", str(port), PAYREQUEST_PUBLIC_URL=f"http://127.0.0.1:{port}"
    )
    try:
        servers.wait_healthy(port, server)
        registered = _run(tmp_path, port, "stripe", "register-webhook")
        assert registered.returncode == 0, registered.stderr
        assert url in registered.stdout
        again = _run(tmp_path, port, "stripe", "register-webhook")
        assert "Already registered" in again.stdout, again.stdout + again.stderr
        [endpoint] = [e for e in _endpoints(port) if e["url"] == url]
        assert "checkout.session.completed" in str(endpoint["enabled_events"])
        # One made elsewhere for our URL (its secret is not ours) is removed for a new one.
        foreign = httpx.post(
            f"http://127.0.0.1:{port}/sandbox/stripe/v1/webhook_endpoints",
            auth=(SANDBOX_STRIPE_KEY, ""),
            data={"url": url, "enabled_events[0]": "*"},
            timeout=10,
        )
        assert foreign.status_code == 200, foreign.text
        replaced = _run(tmp_path, port, "stripe", "register-webhook")
        assert replaced.returncode == 0, replaced.stderr
        assert str(foreign.json()["id"]) in replaced.stdout  # named as removed
        assert [e["id"] for e in _endpoints(port) if e["url"] == url] == [endpoint["id"]]
    finally:
        servers.stop(server)


def test_without_a_key_it_names_the_setting(tmp_path: Path) -> None:
    done = subprocess.run(
        [*PAYREQUEST, "stripe", "register-webhook"],
        env=servers.payrequest_env(
            tmp_path,
            PAYREQUEST_PROVIDER_MODE="test",
            PAYREQUEST_SECRET_KEY="k" * 40,
            PAYREQUEST_PUBLIC_URL="https://pay.example.no",
            PAYREQUEST_VIPPS__CLIENT_ID="id",
            PAYREQUEST_VIPPS__CLIENT_SECRET="secret",
            PAYREQUEST_VIPPS__SUBSCRIPTION_KEY="key",
            PAYREQUEST_VIPPS__MERCHANT_SERIAL_NUMBER="123456",
        ),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "PAYREQUEST_STRIPE__SECRET_KEY" in done.stderr
