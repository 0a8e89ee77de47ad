"""`payrequest sandbox`: flags become the emulator's config and faults; defaults are printed."""

from __future__ import annotations

from typing import Any

import pytest
import typer
import uvicorn
from typer.testing import CliRunner

from payrequest.sandbox import cli as sandbox_cli
from payrequest.sandbox import sandbox_of_app


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def fake_run(app: Any, **kwargs: Any) -> None:
        calls.append({"sandbox": sandbox_of_app(app), **kwargs})

    monkeypatch.setattr(uvicorn, "run", fake_run)
    return calls


def invoke(*args: str) -> Any:
    command = typer.Typer()
    command.command()(sandbox_cli.sandbox_command)
    return CliRunner().invoke(command, list(args), env={})


def test_defaults_are_printed(runs: list[dict[str, Any]]) -> None:
    result = invoke("--state", "")
    assert result.exit_code == 0, result.output
    for text in (
        "sandbox-client",
        "sandbox-secret",
        "sandbox-subscription-key",
        "123456",
        "http://127.0.0.1:8100/phone",
        "in memory",
    ):
        assert text in result.output
    assert runs[0]["port"] == 8100 and runs[0]["host"] == "127.0.0.1"


def test_flags_set_credentials_market_and_faults(runs: list[dict[str, Any]]) -> None:
    result = invoke(
        "--state",
        "",
        "--port",
        "8200",
        "--client-id",
        "cid",
        "--client-secret",
        "real-secret-1",
        "--subscription-key",
        "sub",
        "--msn",
        "2060591",
        "--market",
        "dk",
        "--latency-ms",
        "20",
        "--error-rate",
        "0.1",
        "--rate-limit-rate",
        "0.2",
        "--timeout-rate",
        "0.3",
        "--timeout-mode",
        "close",
        "--webhook-drop-rate",
        "0.4",
        "--webhook-duplicate-rate",
        "0.5",
        "--webhook-reorder-rate",
        "0.6",
        "--clock-speed",
        "60",
        "--no-magic-amounts",
        "--no-rate-limits",
        "--retry-schedule",
        "0.1,0.2",
        "--seed",
        "9",
        "--operation-hold-ms",
        "250",
        "--no-long-living-approved",
        "--no-push-message-approved",
        "--full-capture-only",
        "--no-bank-account-verified",
    )
    assert result.exit_code == 0, result.output
    assert "real-secret-1" not in result.output  # a non-default secret is masked
    sb = runs[0]["sandbox"]
    assert (sb.config.client_id, sb.config.msn, sb.config.market, sb.config.currency) == (
        "cid",
        "2060591",
        "DK",
        "DKK",
    )
    assert sb.config.webhook_retry_schedule == (0.1, 0.2)
    faults = sb.faults
    assert (faults.latency_ms, faults.error_rate, faults.rate_limit_rate) == (20, 0.1, 0.2)
    assert (faults.timeout_rate, faults.timeout_mode) == (0.3, "close")
    assert (
        faults.webhook_drop_rate,
        faults.webhook_duplicate_rate,
        faults.webhook_reorder_rate,
    ) == (0.4, 0.5, 0.6)
    assert faults.clock_speed == 60 and sb.clock.speed == 60
    assert faults.magic_amounts is False and faults.rate_limits is False
    assert faults.operation_hold_ms == 250
    assert (faults.long_living_approved, faults.push_message_approved) == (False, False)
    assert (faults.full_capture_only, faults.bank_account_verified) == (True, False)
    assert (
        "long-living NOT approved, PUSH_MESSAGE NOT approved, full captures only, "
        "bank account NOT verified"
    ) in result.output


def test_the_sales_unit_is_the_demos_by_default(runs: list[dict[str, Any]]) -> None:
    result = invoke("--state", "")
    faults = runs[0]["sandbox"].faults
    assert (faults.long_living_approved, faults.push_message_approved) == (True, True)
    assert (faults.full_capture_only, faults.bank_account_verified) == (False, True)
    assert faults.operation_hold_ms == 0
    assert (
        "long-living approved, PUSH_MESSAGE approved, partial captures, bank account verified"
    ) in result.output


def test_bad_market_is_refused(runs: list[dict[str, Any]]) -> None:
    result = invoke("--state", "", "--market", "SE")
    assert result.exit_code != 0 and not runs
