"""Settings from the environment (prefix `PAYREQUEST_`, nested with `__`) or a `.env` file."""

from __future__ import annotations

import json
import re
import secrets
from email.utils import parseaddr
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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
    # Platform mode: the installation's partner keys, acting for every organisation that
    # entered only its merchant serial number (docs/deployment.md, "Partner keys").
    partner_client_id: str | None = None
    partner_client_secret: SecretStr | None = None
    partner_subscription_key: SecretStr | None = None
    # One try's wait for an answer; a call's retries end within its deadline (client.py).
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0


class StripeSettings(BaseModel):
    """The installation's own Stripe account, for card payments (docs/stripe.md). Off until a
    secret key is set; in sandbox mode the built-in Stripe emulator's key is the default."""

    secret_key: SecretStr | None = None
    api_base: str | None = None  # override the API host (e.g. a standalone emulator's /stripe)
    account: str = "stripe"  # our label of the account (its events do not name it)
    # One try's wait for an answer; the SDK retries twice with the same idempotency key.
    timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 6.0


SANDBOX_STRIPE_KEY = "sk_test_sandbox"  # the built-in Stripe emulator's default key

# Test credentials of the built-in emulator, used in sandbox mode when none are configured.
SANDBOX_CREDENTIALS = {
    "client_id": "sandbox-client",
    "client_secret": "sandbox-secret",
    "subscription_key": "sandbox-subscription-key",
    "merchant_serial_number": "123456",
}


class SmtpSettings(BaseModel):
    """Outgoing email. No host: email is switched off (nothing is sent, nothing fails)."""

    host: str | None = None
    port: Annotated[int, Field(ge=1, le=65535)] = 587  # 465 when use_tls and no port is set
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True  # upgrade a plain connection with STARTTLS (required, not optional)
    use_tls: bool = False  # implicit TLS from the first byte ("SMTPS", port 465)
    sender: str = "payrequest@localhost"  # `name@example.no` or `Shop AS <name@example.no>`
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 15.0

    @field_validator("sender")
    @classmethod
    def _sender_address(cls, value: str) -> str:
        _name, address = parseaddr(value)
        if "\r" in value or "\n" in value or "@" not in address or address.endswith("@"):
            raise ValueError("must be an email address such as payrequest@example.no")
        return value

    @model_validator(mode="after")
    def _implicit_tls_defaults(self) -> SmtpSettings:
        if self.use_tls:
            if "port" not in self.model_fields_set:
                self.port = 465
            if "starttls" not in self.model_fields_set:
                self.starttls = False
        return self


SMS_SENDER_RULE = "up to 11 letters, digits and spaces (A-Z, 0-9) or a number of up to 15 digits"
_ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9](?:[A-Za-z0-9 ]{0,9}[A-Za-z0-9])?$")
_NUMERIC_SENDER = re.compile(r"^\+?[0-9]{1,15}$")


def valid_sms_sender(value: str) -> bool:
    """An alphanumeric sender id (at most 11 characters) or a numeric one (at most 15 digits)."""
    return bool(_ALPHANUMERIC_SENDER.match(value) or _NUMERIC_SENDER.match(value))


class SmsSettings(BaseModel):
    """SMS delivery: `sandbox` (the emulator's phone) or `gatewayapi` (GatewayAPI.com REST).

    `url` and `api_key` (and gateway `http`) are the earlier names, still accepted.
    """

    model_config = ConfigDict(populate_by_name=True)

    gateway: Annotated[str, Field(pattern=r"^(sandbox|gatewayapi)$")] = "sandbox"
    api_token: Annotated[
        SecretStr | None, Field(validation_alias=AliasChoices("api_token", "api_key"))
    ] = None
    base_url: Annotated[str, Field(validation_alias=AliasChoices("base_url", "url"))] = (
        "https://gatewayapi.com"
    )
    sender: str = "payrequest"
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 10.0
    # Incoming SMS (a customer's reply, e.g. STOP) from GatewayAPI: the "authentication token"
    # set on the webhook in GatewayAPI's dashboard. Without it the reply address answers 404.
    webhook_secret: SecretStr | None = None
    # The keyword leased on a shared short code: GatewayAPI passes it on at the start of the
    # text ("PAY STOP"); it is not read as the reply's first word. None: a number of our own.
    reply_keyword: Annotated[str | None, Field(max_length=32)] = None

    @field_validator("gateway", mode="before")
    @classmethod
    def _earlier_gateway_name(cls, value: Any) -> Any:
        return "gatewayapi" if value == "http" else value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (e.g. https://gatewayapi.eu)")
        return value.rstrip("/")

    @field_validator("sender")
    @classmethod
    def _sender_id(cls, value: str) -> str:
        if not valid_sms_sender(value):
            raise ValueError(f"must be {SMS_SENDER_RULE}; got {value!r}")
        return value


class AutomationsSettings(BaseModel):
    """Flows. `webhook_allow`: hosts, addresses or networks (`10.1.0.0/16`) that webhook
    actions may call although they are loopback, private or link-local (refused otherwise).
    A JSON list (`["erp.internal", "10.1.2.3"]`) or comma separated. `schedule_seconds`: how
    often the scheduler looks for invoices whose reminder step is due (automations.schedule)."""

    webhook_allow: Annotated[list[str], NoDecode] = []
    schedule_seconds: Annotated[int, Field(ge=1, le=3600)] = 30

    @field_validator("webhook_allow", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().startswith("["):
            return json.loads(value)
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class BusinessSettings(BaseModel):
    """Who is paid: the seller as receipts name it. Empty values are left off the receipt."""

    name: Annotated[str, Field(max_length=100)] = ""
    organisation_number: Annotated[str, Field(pattern=r"^[A-Za-z0-9 .-]{0,30}$")] = ""
    address: Annotated[str, Field(max_length=200)] = ""  # one line: `Storgata 1, 0155 Oslo`

    @field_validator("name", "organisation_number", "address")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\r" in value or "\n" in value:
            raise ValueError("must be one line")
        return value.strip()


class PortalSettings(BaseModel):
    """The customer portal. `partial_payments`: customers may pay less than the open total
    of the invoices they chose (an instalment). Only the first organisation's value when it
    is made; then each organisation's own setting (Organisation.portal_partial_payments)."""

    partial_payments: bool = False


class LedgerSettings(BaseModel):
    """Money on the books. `auto_apply_credit`: a customer's credit (an overpayment, what a
    manual payment left over) is applied to their open invoices by itself, oldest due first,
    new invoices included; off, staff apply it from the customer card. Only the first
    organisation's value when it is made; then each organisation's own setting
    (Organisation.auto_apply_credit)."""

    auto_apply_credit: bool = False


class InboundSettings(BaseModel):
    """Provider webhooks (inbound/). `apply`: `inline` applies each webhook in its own request
    (the answer means "applied"); `batched` only stores it (the answer means "stored") and the
    worker applies what has arrived in batches, one transaction per batch and business
    (inbound.drain). `batch_size`: the most events one such transaction applies."""

    apply: Literal["inline", "batched"] = "inline"
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 200


class ApiSettings(BaseModel):
    """The REST API (docs/api.md): how many requests one key may make a minute."""

    requests_per_minute: Annotated[int, Field(ge=1, le=1_000_000)] = 600


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
    # Businesses may sign themselves up at /signup (off: that page answers 404 and the
    # sign-in page offers no sign-up).
    signup: bool = True

    vipps: VippsSettings = VippsSettings()
    stripe: StripeSettings = StripeSettings()
    smtp: SmtpSettings = SmtpSettings()
    sms: SmsSettings = SmsSettings()
    automations: AutomationsSettings = AutomationsSettings()
    ledger: LedgerSettings = LedgerSettings()
    business: BusinessSettings = BusinessSettings()
    portal: PortalSettings = PortalSettings()
    api: ApiSettings = ApiSettings()
    inbound: InboundSettings = InboundSettings()

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
    def _sms_gateway_needs_token(self) -> Settings:
        if self.sms.gateway == "gatewayapi" and self.sms.api_token is None:
            raise ValueError(
                f"{ENV_PREFIX}SMS__API_TOKEN is required when {ENV_PREFIX}SMS__GATEWAY=gatewayapi "
                "(GatewayAPI dashboard, API keys)"
            )
        if self.smtp.use_tls and self.smtp.starttls:
            raise ValueError(
                f"{ENV_PREFIX}SMTP__USE_TLS and {ENV_PREFIX}SMTP__STARTTLS cannot both be true: "
                "use_tls is implicit TLS (port 465), starttls upgrades a plain connection (587)"
            )
        return self

    @model_validator(mode="after")
    def _real_provider_needs_credentials(self) -> Settings:
        if self.provider_mode is ProviderMode.sandbox:
            for name, value in SANDBOX_CREDENTIALS.items():
                if getattr(self.vipps, name) is None:
                    secret = name in ("client_secret", "subscription_key")
                    setattr(self.vipps, name, SecretStr(value) if secret else value)
            if self.stripe.secret_key is None:
                self.stripe.secret_key = SecretStr(SANDBOX_STRIPE_KEY)
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
        if not self.public_url.startswith("https://"):
            # Both Vipps MobilePay environments refuse http webhook and return URLs
            # (docs/vipps.md#environments); only the built-in emulator takes them.
            raise ValueError(
                f"{ENV_PREFIX}PUBLIC_URL must be https:// when {ENV_PREFIX}PROVIDER_MODE="
                f"{self.provider_mode.value} (Vipps MobilePay only calls https webhooks and "
                "return URLs)"
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
