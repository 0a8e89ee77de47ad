"""What the operator chooses about logs, /metrics and the worker's health port.

Read from the same place as every other setting (`PAYREQUEST_*` variables or `.env`):

- `PAYREQUEST_LOG_FORMAT`: `text` (key=value, one line per record; the default) or `json`.
- `PAYREQUEST_LOG_LEVEL`: `DEBUG`, `INFO` (default), `WARNING` or `ERROR`.
- `PAYREQUEST_METRICS_TOKEN`: when set, `/metrics` answers only `Authorization: Bearer <token>`;
  unset, it answers only loopback clients that came through no proxy.
- `PAYREQUEST_WORKER_HEALTH_PORT` (and `__HOST`, default 127.0.0.1): `payrequest worker` serves
  `/healthz`, `/readyz` and `/metrics` there; unset, it serves nothing.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from payrequest.config import ENV_PREFIX, ConfigurationError

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ObservabilitySettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    metrics_token: SecretStr | None = None
    worker_health_port: Annotated[int | None, Field(ge=1, le=65535)] = None
    worker_health_host: str = "127.0.0.1"

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LEVELS:
            raise ValueError(f"must be one of {', '.join(LEVELS)}")
        return level


def load_observability() -> ObservabilitySettings:
    """The settings, or ConfigurationError with one line naming the variable."""
    try:
        return ObservabilitySettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ENV_PREFIX + "__".join(str(part).upper() for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigurationError(f"{name}: {message}") from None
