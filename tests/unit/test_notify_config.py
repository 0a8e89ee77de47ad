"""SMS and SMTP settings (one clear line naming the setting) and the factory built on them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from payrequest.config import ConfigurationError, load_settings
from payrequest.notify import build_email_sender, build_sms_gateway
from payrequest.notify.sms import GatewayApiSms, SandboxSms


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("PAYREQUEST_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env file


def setenv(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"PAYREQUEST_SMS__GATEWAY": "gatewayapi"},
            "PAYREQUEST_SMS__API_TOKEN is required when PAYREQUEST_SMS__GATEWAY=gatewayapi",
        ),
        ({"PAYREQUEST_SMS__GATEWAY": "twilio"}, "PAYREQUEST_SMS__GATEWAY: String should match"),
        ({"PAYREQUEST_SMS__SENDER": "Kafé Ås AS"}, "PAYREQUEST_SMS__SENDER: must be up to 11"),
        ({"PAYREQUEST_SMS__SENDER": "TwelveChars1"}, "PAYREQUEST_SMS__SENDER: must be up to 11"),
        ({"PAYREQUEST_SMS__SENDER": "1234567890123456"}, "PAYREQUEST_SMS__SENDER: must be"),
        ({"PAYREQUEST_SMS__BASE_URL": "gatewayapi.eu"}, "PAYREQUEST_SMS__BASE_URL: must start"),
        ({"PAYREQUEST_SMS__TIMEOUT_SECONDS": "0"}, "PAYREQUEST_SMS__TIMEOUT_SECONDS: Input"),
        ({"PAYREQUEST_SMTP__SENDER": "payrequest"}, "PAYREQUEST_SMTP__SENDER: must be an email"),
        ({"PAYREQUEST_SMTP__PORT": "0"}, "PAYREQUEST_SMTP__PORT: Input should be"),
        (
            {"PAYREQUEST_SMTP__USE_TLS": "true", "PAYREQUEST_SMTP__STARTTLS": "true"},
            "PAYREQUEST_SMTP__USE_TLS and PAYREQUEST_SMTP__STARTTLS cannot both be true",
        ),
    ],
)
def test_bad_notify_settings_are_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    setenv(monkeypatch, env)
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.sms.gateway == "sandbox"
    assert settings.sms.base_url == "https://gatewayapi.com"
    assert settings.sms.sender == "payrequest"
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.starttls) == (None, 587, True)
    assert settings.smtp.use_tls is False


@pytest.mark.parametrize("sender", ["payrequest", "Kafe Ask", "Shop2", "4791234567", "+4512345678"])
def test_good_sms_senders(monkeypatch: pytest.MonkeyPatch, sender: str) -> None:
    monkeypatch.setenv("PAYREQUEST_SMS__SENDER", sender)
    assert load_settings().sms.sender == sender


def test_implicit_tls_defaults_to_port_465_without_starttls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYREQUEST_SMTP__USE_TLS", "true")
    smtp = load_settings().smtp
    assert (smtp.port, smtp.starttls, smtp.use_tls) == (465, False, True)
    monkeypatch.setenv("PAYREQUEST_SMTP__PORT", "2465")
    assert load_settings().smtp.port == 2465


def test_earlier_sms_setting_names_still_work(monkeypatch: pytest.MonkeyPatch) -> None:
    setenv(
        monkeypatch,
        {
            "PAYREQUEST_SMS__GATEWAY": "http",
            "PAYREQUEST_SMS__URL": "https://gatewayapi.eu/",
            "PAYREQUEST_SMS__API_KEY": "token-from-the-old-name",
        },
    )
    sms = load_settings().sms
    assert sms.gateway == "gatewayapi"
    assert sms.base_url == "https://gatewayapi.eu"
    assert sms.api_token is not None
    assert sms.api_token.get_secret_value() == "token-from-the-old-name"
    assert "token-from-the-old-name" not in repr(sms)


async def test_factory_builds_the_configured_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = build_sms_gateway(load_settings(), sandbox_base_url="http://127.0.0.1:8000/sb/")
    assert isinstance(sandbox, SandboxSms)
    assert sandbox.base_url == "http://127.0.0.1:8000/sb"
    await sandbox.close()

    setenv(
        monkeypatch,
        {
            "PAYREQUEST_SMS__GATEWAY": "gatewayapi",
            "PAYREQUEST_SMS__API_TOKEN": "t0ken",
            "PAYREQUEST_SMS__BASE_URL": "https://gatewayapi.eu",
            "PAYREQUEST_SMS__SENDER": "Kafe",
        },
    )
    real = build_sms_gateway(load_settings(), sandbox_base_url="http://unused")
    assert isinstance(real, GatewayApiSms)
    assert (real.url, real.sender, real.name) == (
        "https://gatewayapi.eu/rest/mtsms",
        "Kafe",
        "gatewayapi",
    )
    await real.close()


def test_factory_email_sender_only_with_a_host(monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_email_sender(load_settings()) is None
    setenv(
        monkeypatch,
        {
            "PAYREQUEST_SMTP__HOST": "smtp.example.no",
            "PAYREQUEST_SMTP__USE_TLS": "true",
            "PAYREQUEST_SMTP__USERNAME": "shop",
            "PAYREQUEST_SMTP__PASSWORD": "pw",
            "PAYREQUEST_SMTP__SENDER": "Kafé <post@kafe.no>",
            "PAYREQUEST_SMTP__TIMEOUT_SECONDS": "7.5",
        },
    )
    sender = build_email_sender(load_settings())
    assert sender is not None
    assert (sender.host, sender.port, sender.use_tls, sender.starttls) == (
        "smtp.example.no",
        465,
        True,
        False,
    )
    assert (sender.username, sender.password, sender.timeout) == ("shop", "pw", 7.5)
    assert sender.domain == "kafe.no"
