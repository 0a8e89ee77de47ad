"""`payrequest vipps register-webhook` and `payrequest vipps check` against a running server
whose mounted emulator plays Vipps MobilePay (sandbox mode), its switches playing the sales
unit's situation."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from payrequest.sandbox.config import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_MSN,
    DEFAULT_SUBSCRIPTION_KEY,
)
from tests import servers
from tests.emulator_access import key_cookie_of_var_dir
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
        assert "The credentials work." in checked.stdout
        assert "webhook round trip: received" in checked.stdout
    finally:
        servers.stop(server)


def test_check_fails_clearly_without_a_server(tmp_path: Path) -> None:
    port = servers.free_port()
    assert _run(tmp_path, port, "migrate").returncode == 0
    checked = _run(tmp_path, port, "vipps", "check", "--wait", "1")
    assert checked.returncode == 1
    assert "✗" in checked.stdout


LONG_LIVING = {"PAYREQUEST_VIPPS__LONG_LIVING_APPROVED": "true", "COLUMNS": "500"}


def _emulator(port: int, tmp_path: Path) -> httpx.Client:
    """The emulator the server mounts, with our keys (the sandbox's test credentials) and the
    emulator key for its switches."""
    keys = {
        "Ocp-Apim-Subscription-Key": DEFAULT_SUBSCRIPTION_KEY,
        "Merchant-Serial-Number": DEFAULT_MSN,
    }
    base = f"http://127.0.0.1:{port}/sandbox/vipps"
    token = httpx.post(
        f"{base}/accesstoken/get",
        headers={"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET, **keys},
    ).json()["access_token"]
    return httpx.Client(
        base_url=base,
        headers={"Authorization": f"Bearer {token}", **keys},
        cookies=key_cookie_of_var_dir(tmp_path / "var"),
    )


def _registrations(emulator: httpx.Client) -> set[str]:
    return {hook["id"] for hook in emulator.get("/webhooks/v1/webhooks").json()["webhooks"]}


def test_check_says_what_the_sales_unit_may_do_and_removes_a_foreign_registration(
    tmp_path: Path,
) -> None:
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}/webhooks/vipps"
    assert _run(tmp_path, port, "migrate").returncode == 0
    server = servers.start(
        tmp_path, "serve", "--port", str(port), PAYREQUEST_PUBLIC_URL=f"http://127.0.0.1:{port}"
    )
    try:
        servers.wait_healthy(port, server)
        assert _run(tmp_path, port, "vipps", "register-webhook").returncode == 0
        emulator = _emulator(port, tmp_path)
        emulator.patch(
            "/faults", json={"long_living_approved": False, "push_message_approved": False}
        )
        made = emulator.post(
            "/webhooks/v1/webhooks", json={"url": url, "events": ["epayments.payment.created.v1"]}
        )
        elsewhere = made.json()["id"]

        checked = _run(tmp_path, port, "vipps", "check", "--no-round-trip", **LONG_LIVING)
        assert checked.returncode == 1, checked.stdout + checked.stderr
        lines = checked.stdout.splitlines()
        assert lines[:2] == [
            "✓ The credentials work.",
            f"✓ The webhook for {url} is registered, and payrequest holds its secret.",
        ]
        assert lines[2].startswith(
            f"✗ Vipps MobilePay also has registrations for {url} whose secret payrequest does "
            f"not hold: {elsewhere}. Each sends every event once more"
        )
        assert lines[3] == (
            "✓ The sales unit can take payments: a test payment was made and cancelled."
        )
        assert lines[4].startswith(
            "✗ The sales unit is not approved for long-living requests, but "
            "PAYREQUEST_VIPPS__LONG_LIVING_APPROVED is true: every request meant to stay open "
            "longer than 10 minutes is refused. Set it to false, or ask Vipps MobilePay"
        )
        assert lines[5].startswith("✗ Push requests are not allowed for this sales unit")
        assert lines[6].startswith("✓ Captures: payrequest always captures the whole amount")
        assert elsewhere in _registrations(emulator)  # nobody was asked: nothing removed

        removed = _run(
            tmp_path, port, "vipps", "check", "--no-round-trip", "--remove-foreign", **LONG_LIVING
        )
        assert f"✓ removed the registrations {elsewhere}" in removed.stdout
        assert elsewhere not in _registrations(emulator)

        emulator.patch(
            "/faults",
            json={
                "long_living_approved": True,
                "push_message_approved": True,
                "bank_account_verified": False,
            },
        )
        unverified = _run(tmp_path, port, "vipps", "check", "--no-round-trip", **LONG_LIVING)
        assert unverified.returncode == 1
        assert (
            "✗ Vipps MobilePay cannot take payments for this sales unit yet: its bank account is "
            "not verified." in unverified.stdout
        )
        assert "long-living" not in unverified.stdout  # not learnable while nothing is taken

        emulator.patch("/faults", json={"bank_account_verified": True})
        fine = _run(tmp_path, port, "vipps", "check", "--wait", "15", **LONG_LIVING)
        assert fine.returncode == 0, fine.stdout + fine.stderr
        assert "✗" not in fine.stdout and "webhook round trip: received" in fine.stdout
        assert "Long-living requests: the sales unit is approved for them" in fine.stdout
        assert "Push requests are allowed" in fine.stdout
    finally:
        servers.stop(server)
