"""Settings from the environment (prefix `PAYREQUEST_`, nested with `__`) or a `.env` file."""

from __future__ import annotations

import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "PAYREQUEST_"


class ProviderMode(StrEnum):
    sandbox = "sandbox"  # our built-in emulator; no money, no internet
    test = "test"  # Vipps MobilePay's test environment (apitest.vipps.no)
    production = "production"  # real money (api.vipps.no)


class VippsSettings(BaseModel):
    client_id: str | None = None
    client_secret: SecretStr | None = None
    subscription_key: SecretStr | None = None
    merchant_serial_number: Annotated[str | None, Field(pattern=r"^[0-9]{4,10}$")] = None
    market: Annotated[str, Field(pattern=r"^(NO|DK|FI)$")] = "NO"
    long_living_approved: bool = False
    default_lifetime_minutes: Annotated[int, Field(ge=10, le=60 * 24 * 60)] = 60 * 24
    base_url: str | None = None  # override the API host (e.g. a standalone emulator)
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 10.0


# Test credentials of the built-in emulator, used in sandbox mode when none are configured.
SANDBOX_CREDENTIALS = {
    "client_id": "sandbox-client",
    "client_secret": "sandbox-secret",
    "subscription_key": "sandbox-subscription-key",
    "merchant_serial_number": "123456",
}


class SmtpSettings(BaseModel):
    host: str | None = None
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    sender: str = "payrequest@localhost"


class SmsSettings(BaseModel):
    gateway: Annotated[str, Field(pattern=r"^(sandbox|http)$")] = "sandbox"
    url: str | None = None
    api_key: SecretStr | None = None
    sender: str = "payrequest"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    database_url: str = "sqlite:///var/payrequest.db"
    public_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr | None = None
    provider_mode: ProviderMode = ProviderMode.sandbox
    default_locale: Annotated[str, Field(pattern=r"^(nb|da|en)$")] = "nb"
    admin_email: str | None = None
    admin_password: SecretStr | None = None
    var_dir: Path = Path("var")
    sandbox_persist: bool = True  # keep the emulator's state in var/sandbox.db

    vipps: VippsSettings = VippsSettings()
    smtp: SmtpSettings = SmtpSettings()
    sms: SmsSettings = SmsSettings()

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql", "postgres://")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("secret_key")
    @classmethod
    def _secret_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (try: openssl rand -hex 32)")
        return value

    @model_validator(mode="after")
    def _real_provider_needs_credentials(self) -> Settings:
        if self.provider_mode is ProviderMode.sandbox:
            for name, value in SANDBOX_CREDENTIALS.items():
                if getattr(self.vipps, name) is None:
                    secret = name in ("client_secret", "subscription_key")
                    setattr(self.vipps, name, SecretStr(value) if secret else value)
            return self
        if self.secret_key is None:
            raise ValueError(
                f"{ENV_PREFIX}SECRET_KEY is required when {ENV_PREFIX}PROVIDER_MODE="
                f"{self.provider_mode.value}"
            )
        for name in ("client_id", "client_secret", "subscription_key", "merchant_serial_number"):
            if getattr(self.vipps, name) is None:
                raise ValueError(
                    f"{ENV_PREFIX}VIPPS__{name.upper()} is required when "
                    f"{ENV_PREFIX}PROVIDER_MODE={self.provider_mode.value}"
                )
        if self.provider_mode is ProviderMode.production and not self.public_url.startswith(
            "https://"
        ):
            raise ValueError(
                f"{ENV_PREFIX}PUBLIC_URL must be https:// in production (Vipps only calls "
                "https webhooks)"
            )
        return self


def secret_key(settings: Settings) -> str:
    """The configured secret key or, in sandbox mode only, one generated once into var/."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    path = Path(settings.var_dir) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    generated = secrets.token_urlsafe(32)
    path.write_text(generated)
    path.chmod(0o600)
    return generated


class ConfigurationError(Exception):
    """Settings are missing or invalid. The message is one line naming the setting."""


def _env_name(loc: tuple[Any, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part).upper() for part in loc)


def load_settings(**overrides: Any) -> Settings:
    """Build settings or raise ConfigurationError with one clear line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["loc"]:
            raise ConfigurationError(f"{_env_name(first['loc'])}: {message}") from None
        raise ConfigurationError(message) from None
