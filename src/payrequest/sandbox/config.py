"""Settings of one emulated sales unit, and the documented default test credentials.

The defaults below are what `payrequest sandbox` prints at start and what the demo uses when
nothing else is configured. They are test credentials for the emulator only.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field
from pathlib import Path

from payrequest.sandbox.faults import Faults

DEFAULT_CLIENT_ID = "sandbox-client"
DEFAULT_CLIENT_SECRET = "sandbox-secret"  # noqa: S105 - a documented test credential
DEFAULT_SUBSCRIPTION_KEY = "sandbox-subscription-key"
DEFAULT_MSN = "123456"
DEFAULT_MARKET = "NO"
DEFAULT_MERCHANT_NAME = "Sandbox Merchant"
DEFAULT_PORT = 8100
UNKNOWN_USERS = frozenset({"4799999999", "4599999999", "358999999999"})

# Sales-unit market -> the only currency it may charge in (docs/vipps.md#amounts-and-currencies).
MARKET_CURRENCY = {"NO": "NOK", "DK": "DKK", "FI": "EUR"}
# Sales-unit market -> the test user who approves a payment force-approved with its landing
# token when nobody has given a number for it (docs/vipps.md#the-test-environment).
MARKET_TEST_USER = {"NO": "4791234567", "DK": "4512345678", "FI": "358401234567"}
# Sales-unit market -> the app a NATIVE_REDIRECT deep link opens.
MARKET_APP_SCHEME = {"NO": "vipps", "DK": "mobilepay", "FI": "mobilepay"}
# Sales-unit market -> the time zone its users' phones show times in.
MARKET_TIMEZONE = {"NO": "Europe/Oslo", "DK": "Europe/Copenhagen", "FI": "Europe/Helsinki"}

# Nominal webhook retry schedule in seconds (docs/vipps.md#webhook-delivery-retries-and-ordering):
# ~2 s apart for the first attempts, then 60 s, 120 s, then hourly. The last value repeats
# until `webhook_max_age`.
DEFAULT_RETRY_SCHEDULE: tuple[float, ...] = (2.0, 2.0, 2.0, 60.0, 120.0, 3600.0)
SEVEN_DAYS = 7 * 24 * 3600.0


@dataclass
class SandboxConfig:
    """Everything one emulator instance needs. `state_path=None` keeps state in memory."""

    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    subscription_key: str = DEFAULT_SUBSCRIPTION_KEY
    msn: str = DEFAULT_MSN
    market: str = DEFAULT_MARKET
    merchant_name: str = DEFAULT_MERCHANT_NAME
    state_path: Path | None = None
    webhook_retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    webhook_timeout: float = 10.0
    webhook_max_age: float = SEVEN_DAYS
    clock_speed: float = 1.0
    faults: Faults = field(default_factory=Faults)
    seed: int | None = None
    token_lifetime: int = 3600  # seconds; 1 hour as in the test environment
    # The sales unit's situation at the start; None keeps what `faults` says. They live in
    # `faults` (switchable with PATCH /faults), see faults.SALES_UNIT_SWITCHES.
    long_living_approved: InitVar[bool | None] = None  # else create with expiresAt is 5050
    push_message_approved: InitVar[bool | None] = None  # else PUSH_MESSAGE is 5080
    full_capture_only: InitVar[bool | None] = None  # a partial capture is 6140
    bank_account_verified: InitVar[bool | None] = None  # else every create is 5060
    restricted_scopes_allowed: bool = False  # may ask for profile scopes nin, accountNumbers (5030)
    # Local development convenience: accept http:// URLs whose host is loopback for
    # returnUrl, receiptUrl and webhook registrations (the real API demands https).
    allow_http_loopback: bool = True
    sweep_interval: float = 0.5  # seconds between expiry sweeps
    # Numbers with no Vipps/MobilePay user behind them: create answers 7010 "Customer not
    # found", as the real API does for an unknown user (documented for people trying it out).
    unknown_users: frozenset[str] = field(default_factory=lambda: UNKNOWN_USERS)

    def __post_init__(
        self,
        long_living_approved: bool | None,
        push_message_approved: bool | None,
        full_capture_only: bool | None,
        bank_account_verified: bool | None,
    ) -> None:
        situation = {
            "long_living_approved": long_living_approved,
            "push_message_approved": push_message_approved,
            "full_capture_only": full_capture_only,
            "bank_account_verified": bank_account_verified,
        }
        given = {name: value for name, value in situation.items() if value is not None}
        if given:
            self.faults = self.faults.model_copy(update=given)
        self.market = self.market.upper()
        if self.market not in MARKET_CURRENCY:
            raise ValueError(f"market must be one of {sorted(MARKET_CURRENCY)}, got {self.market}")
        if not self.msn.isdigit() or not 4 <= len(self.msn) <= 10:
            raise ValueError("msn must be 4-10 digits")
        if self.clock_speed <= 0:
            raise ValueError("clock_speed must be positive")
        if not self.webhook_retry_schedule:
            raise ValueError("webhook_retry_schedule needs at least one delay")

    @property
    def currency(self) -> str:
        return MARKET_CURRENCY[self.market]

    @property
    def timezone(self) -> str:
        return MARKET_TIMEZONE[self.market]

    @property
    def test_user(self) -> str:
        return MARKET_TEST_USER[self.market]

    @property
    def app_scheme(self) -> str:
        return MARKET_APP_SCHEME[self.market]
