from __future__ import annotations

import os
from pathlib import Path

import pytest

from payrequest.config import ConfigurationError, ProviderMode, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("PAYREQUEST_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env file


def test_defaults_run_the_embedded_demo() -> None:
    settings = load_settings()
    assert settings.database_url.startswith("sqlite")
    assert settings.provider_mode is ProviderMode.sandbox


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PAYREQUEST_PROVIDER_MODE": "live"}, "PAYREQUEST_PROVIDER_MODE: Input should be"),
        ({"PAYREQUEST_DATABASE_URL": "mysql://x"}, "PAYREQUEST_DATABASE_URL: must be a sqlite"),
        ({"PAYREQUEST_PUBLIC_URL": "example.com"}, "PAYREQUEST_PUBLIC_URL: must start with"),
        ({"PAYREQUEST_SECRET_KEY": "short"}, "PAYREQUEST_SECRET_KEY: must be at least 32"),
        (
            {"PAYREQUEST_VIPPS__MERCHANT_SERIAL_NUMBER": "12"},
            "PAYREQUEST_VIPPS__MERCHANT_SERIAL_NUMBER: String should match",
        ),
        (
            {"PAYREQUEST_PROVIDER_MODE": "production"},
            "PAYREQUEST_SECRET_KEY is required when PAYREQUEST_PROVIDER_MODE=production",
        ),
        (
            {"PAYREQUEST_PROVIDER_MODE": "test", "PAYREQUEST_SECRET_KEY": "x" * 40},
            "PAYREQUEST_VIPPS__CLIENT_ID is required when PAYREQUEST_PROVIDER_MODE=test",
        ),
    ],
)
def test_bad_configuration_is_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_production_needs_https_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "PAYREQUEST_PROVIDER_MODE": "production",
        "PAYREQUEST_SECRET_KEY": "k" * 40,
        "PAYREQUEST_VIPPS__CLIENT_ID": "id",
        "PAYREQUEST_VIPPS__CLIENT_SECRET": "hunter2-client-secret",
        "PAYREQUEST_VIPPS__SUBSCRIPTION_KEY": "sub",
        "PAYREQUEST_VIPPS__MERCHANT_SERIAL_NUMBER": "123456",
        "PAYREQUEST_PUBLIC_URL": "http://pay.example.no",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigurationError, match="PUBLIC_URL must be https"):
        load_settings()
    monkeypatch.setenv("PAYREQUEST_PUBLIC_URL", "https://pay.example.no/")
    settings = load_settings()
    assert settings.public_url == "https://pay.example.no"
    assert settings.vipps.client_secret is not None
    assert "hunter2" not in repr(settings)  # secrets never printed


def test_env_file_is_read() -> None:
    Path(".env").write_text("PAYREQUEST_PUBLIC_URL=https://a.example\n")
    assert load_settings().public_url == "https://a.example"


@pytest.mark.parametrize("mode", ["test", "production"])
def test_vipps_environments_need_an_https_public_url(
    monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """apitest.vipps.no refuses http webhook and return URLs as api.vipps.no does: refused at
    start-up in one line, not by the first payment."""
    env = {
        "PAYREQUEST_PROVIDER_MODE": mode,
        "PAYREQUEST_SECRET_KEY": "k" * 40,
        "PAYREQUEST_VIPPS__CLIENT_ID": "id",
        "PAYREQUEST_VIPPS__CLIENT_SECRET": "client-secret",
        "PAYREQUEST_VIPPS__SUBSCRIPTION_KEY": "sub",
        "PAYREQUEST_VIPPS__MERCHANT_SERIAL_NUMBER": "123456",
        "PAYREQUEST_PUBLIC_URL": "http://pay.example.no",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    message = str(refused.value)
    assert message.startswith(
        f"PAYREQUEST_PUBLIC_URL must be https:// when PAYREQUEST_PROVIDER_MODE={mode}"
    )
    assert "\n" not in message
    monkeypatch.setenv("PAYREQUEST_PUBLIC_URL", "https://pay.example.no")
    assert load_settings().public_url == "https://pay.example.no"


def test_the_emulator_takes_an_http_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYREQUEST_PUBLIC_URL", "http://127.0.0.1:8000")
    assert load_settings().provider_mode is ProviderMode.sandbox
