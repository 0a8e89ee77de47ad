"""Settings of the emulated sales units, and the documented default test credentials.

One emulator plays one default sales unit (the single-unit fields of `SandboxConfig`) and any
number of further ones (`extra_units`), each with its own keys, MSN and market, plus partner
keys that may act for several of them (docs/vipps.md#partner-keys).

The defaults below are what `payrequest sandbox` prints at start and what the demo uses when
nothing else is configured. They are test credentials for the emulator only:

- the default unit: `sandbox-client` / `sandbox-secret` / `sandbox-subscription-key`, MSN
  `123456`, Norway (NOK), "Sandbox Merchant";
- the Danish test unit (`DK_TEST_UNIT`, `payrequest sandbox --extra-unit DK`):
  `sandbox-client-dk` / `sandbox-secret-dk` / `sandbox-subscription-key-dk`, MSN `654321`,
  Denmark (DKK), "Sandbox Merchant DK";
- the Finnish test unit (`FI_TEST_UNIT`, `--extra-unit FI`): `sandbox-client-fi` /
  `sandbox-secret-fi` / `sandbox-subscription-key-fi`, MSN `765432`, Finland (EUR),
  "Sandbox Merchant FI";
- the partner keys (`TEST_PARTNER`, `--partner`): `sandbox-partner` / `sandbox-partner-secret`
  / `sandbox-partner-subscription-key`, linked to every unit of the emulator.

`SandboxConfig.with_test_units()` adds the Danish unit and the partner keys to a config, and
switches on automatic test units.

Automatic test units (`SandboxConfig.auto_units`, docs/vipps.md#automatic-test-units): the
emulator's own convenience, not a Vipps MobilePay feature. Any MSN of the reserved range
9000000-9999999 (seven digits starting with 9) is a sales unit without configuration, of the
market its client id names, with the deterministic credentials `auto_unit(market, msn)` gives:
`sandbox-auto-<market lower>-<msn>` / `sandbox-auto-secret-<msn>` / `sandbox-auto-key-<msn>`,
merchant name `Test merchant <msn>`, approved like the default test units. No configuration
names them, so a demo can hand each business its own unit at once and a restart keeps them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
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
# Sales-unit market -> its name and the app its users pay with, as the phone pages show them.
MARKET_NAME = {"NO": "Norway", "DK": "Denmark", "FI": "Finland"}
MARKET_APP = {"NO": "Vipps", "DK": "MobilePay", "FI": "MobilePay"}
# Sales-unit market -> the time zone its users' phones show times in.
MARKET_TIMEZONE = {"NO": "Europe/Oslo", "DK": "Europe/Copenhagen", "FI": "Europe/Helsinki"}

# Nominal webhook retry schedule in seconds (docs/vipps.md#webhook-delivery-retries-and-ordering):
# ~2 s apart for the first attempts, then 60 s, 120 s, then hourly. The last value repeats
# until `webhook_max_age`.
DEFAULT_RETRY_SCHEDULE: tuple[float, ...] = (2.0, 2.0, 2.0, 60.0, 120.0, 3600.0)
SEVEN_DAYS = 7 * 24 * 3600.0


def check_market(market: str) -> str:
    """The market code in capitals; ValueError for one the emulator does not know."""
    code = market.upper()
    if code not in MARKET_CURRENCY:
        raise ValueError(f"market must be one of {sorted(MARKET_CURRENCY)}, got {market}")
    return code


def check_msn(msn: str) -> None:
    if not msn.isdigit() or not 4 <= len(msn) <= 10:
        raise ValueError("msn must be 4-10 digits")


@dataclass(frozen=True)
class SalesUnitConfig:
    """One sales unit (merchant serial number) the emulator plays, with its own API keys, its
    market (which sets the currency) and its situation at the start (the same switches as
    `faults.Faults`' sales-unit ones; changeable while running with `PATCH /units/{msn}`)."""

    msn: str
    client_id: str
    client_secret: str
    subscription_key: str
    market: str = DEFAULT_MARKET
    merchant_name: str = DEFAULT_MERCHANT_NAME
    long_living_approved: bool = True  # else create with expiresAt is 5050
    push_message_approved: bool = True  # else PUSH_MESSAGE is 5080
    full_capture_only: bool = False  # a partial capture is 6140
    bank_account_verified: bool = True  # else every create is 5060

    def __post_init__(self) -> None:
        object.__setattr__(self, "market", check_market(self.market))
        check_msn(self.msn)

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

    @property
    def market_name(self) -> str:
        return MARKET_NAME[self.market]

    @property
    def app_name(self) -> str:
        return MARKET_APP[self.market]


# Automatic test units (see the module): the reserved MSN range and the credentials' shapes.
AUTO_MSN_FIRST = 9_000_000
AUTO_MSN_LAST = 9_999_999
AUTO_CLIENT_ID_PREFIX = "sandbox-auto-"
AUTO_SECRET_PREFIX = "sandbox-auto-secret-"  # noqa: S105 - documented test credentials
AUTO_KEY_PREFIX = "sandbox-auto-key-"
AUTO_MERCHANT_PREFIX = "Test merchant "
_AUTO_MSN = r"9[0-9]{6}"
_AUTO_CLIENT_ID = re.compile(
    rf"{AUTO_CLIENT_ID_PREFIX}({'|'.join(m.lower() for m in MARKET_CURRENCY)})-({_AUTO_MSN})"
)
_AUTO_KEY = re.compile(rf"{AUTO_KEY_PREFIX}({_AUTO_MSN})")


def is_auto_msn(msn: str) -> bool:
    """Whether `msn` is in the range reserved for automatic test units (9000000-9999999)."""
    return re.fullmatch(_AUTO_MSN, msn) is not None


def auto_unit(market: str, msn: str) -> SalesUnitConfig:
    """The automatic test unit `msn` of `market` (NO, DK or FI) with its documented,
    deterministic test credentials: client id `sandbox-auto-<market lower>-<msn>`, client
    secret `sandbox-auto-secret-<msn>`, subscription key `sandbox-auto-key-<msn>`, merchant
    name `Test merchant <msn>`, situation as the default test units' (approved for long-living
    payments and PUSH_MESSAGE, partial captures, bank account verified). An emulator with
    `auto_units` on accepts these without configuration. ValueError for an unknown market or
    an MSN outside 9000000-9999999."""
    code = check_market(market)
    if not is_auto_msn(msn):
        raise ValueError(
            f"an automatic test unit's msn is 7 digits from {AUTO_MSN_FIRST} to "
            f"{AUTO_MSN_LAST}, got {msn}"
        )
    return SalesUnitConfig(
        msn=msn,
        client_id=f"{AUTO_CLIENT_ID_PREFIX}{code.lower()}-{msn}",
        client_secret=f"{AUTO_SECRET_PREFIX}{msn}",
        subscription_key=f"{AUTO_KEY_PREFIX}{msn}",
        market=code,
        merchant_name=f"{AUTO_MERCHANT_PREFIX}{msn}",
    )


def auto_unit_of_client_id(client_id: str) -> SalesUnitConfig | None:
    """The automatic test unit this client id names (market and MSN are in it); None if it
    is not an automatic unit's client id."""
    match = _AUTO_CLIENT_ID.fullmatch(client_id)
    return auto_unit(match.group(1), match.group(2)) if match else None


def auto_msn_of_subscription_key(subscription_key: str) -> str | None:
    """The MSN of an automatic test unit's subscription key; None for any other key."""
    match = _AUTO_KEY.fullmatch(subscription_key)
    return match.group(1) if match else None


@dataclass(frozen=True)
class PartnerKeys:
    """A partner's API keys: they act for every linked sales unit, named by the
    `Merchant-Serial-Number` header of each call (docs/vipps.md#partner-keys). `msns=None`
    links every unit of the emulator."""

    client_id: str
    client_secret: str
    subscription_key: str
    msns: frozenset[str] | None = None

    def links(self, msn: str) -> bool:
        return self.msns is None or msn in self.msns


DK_TEST_UNIT = SalesUnitConfig(
    msn="654321",
    client_id="sandbox-client-dk",
    client_secret="sandbox-secret-dk",  # noqa: S106 - a documented test credential
    subscription_key="sandbox-subscription-key-dk",
    market="DK",
    merchant_name="Sandbox Merchant DK",
)
FI_TEST_UNIT = SalesUnitConfig(
    msn="765432",
    client_id="sandbox-client-fi",
    client_secret="sandbox-secret-fi",  # noqa: S106 - a documented test credential
    subscription_key="sandbox-subscription-key-fi",
    market="FI",
    merchant_name="Sandbox Merchant FI",
)
# Market -> the documented test unit `--extra-unit <market>` adds.
TEST_UNITS = {"DK": DK_TEST_UNIT, "FI": FI_TEST_UNIT}
TEST_PARTNER = PartnerKeys(
    client_id="sandbox-partner",
    client_secret="sandbox-partner-secret",  # noqa: S106 - a documented test credential
    subscription_key="sandbox-partner-subscription-key",
)


@dataclass
class SandboxConfig:
    """Everything one emulator instance needs. `state_path=None` keeps state in memory.

    The single-unit fields (`client_id` ... `merchant_name`) are the default sales unit;
    `extra_units` are further ones, `partners` keys acting for several (see the module).
    """

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
    extra_units: tuple[SalesUnitConfig, ...] = ()
    partners: tuple[PartnerKeys, ...] = ()
    # Accept every automatic test unit (`auto_unit`, MSN 9000000-9999999) without configuring
    # it; a configured unit's MSN or keys always win. Partner keys linked to every unit act for
    # the automatic units too, once a unit's own keys got a token.
    auto_units: bool = False

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
        self.market = check_market(self.market)
        check_msn(self.msn)
        self.extra_units = tuple(self.extra_units)
        self.partners = tuple(self.partners)
        _check_distinct(self.units, self.partners)
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

    @property
    def default_unit(self) -> SalesUnitConfig:
        """The single-unit fields as a unit; its situation is the one `faults` starts with."""
        return SalesUnitConfig(
            msn=self.msn,
            client_id=self.client_id,
            client_secret=self.client_secret,
            subscription_key=self.subscription_key,
            market=self.market,
            merchant_name=self.merchant_name,
            long_living_approved=self.faults.long_living_approved,
            push_message_approved=self.faults.push_message_approved,
            full_capture_only=self.faults.full_capture_only,
            bank_account_verified=self.faults.bank_account_verified,
        )

    @property
    def units(self) -> tuple[SalesUnitConfig, ...]:
        """Every sales unit, the default one first."""
        return (self.default_unit, *self.extra_units)

    def with_test_units(
        self,
        units: Iterable[SalesUnitConfig] = (DK_TEST_UNIT,),
        partner: bool = True,
        auto_units: bool = True,
    ) -> SandboxConfig:
        """A copy with the documented test `units` (the Danish one by default) and the test
        partner keys added, and automatic test units switched on (`auto_units`). A test unit or
        partner whose MSN, client id or subscription key is already taken is left out, so the
        units already configured answer as before."""
        extra, partners = list(self.extra_units), list(self.partners)
        for unit in units:
            if not _clashes((self.default_unit, *extra, unit), partners):
                extra.append(unit)
        if partner and not _clashes((self.default_unit, *extra), (*partners, TEST_PARTNER)):
            partners.append(TEST_PARTNER)
        return dataclasses.replace(
            self,
            extra_units=tuple(extra),
            partners=tuple(partners),
            auto_units=self.auto_units or auto_units,
        )


def _clashes(units: Iterable[SalesUnitConfig], partners: Iterable[PartnerKeys]) -> bool:
    try:
        _check_distinct(tuple(units), tuple(partners))
    except ValueError:
        return True
    return False


def _check_distinct(units: tuple[SalesUnitConfig, ...], partners: tuple[PartnerKeys, ...]) -> None:
    """MSNs, client ids and subscription keys name one unit or partner each; a partner links
    only units that exist."""
    msns = [unit.msn for unit in units]
    if len(set(msns)) != len(msns):
        raise ValueError("every sales unit needs its own msn")
    keys = [*units, *partners]
    for name in ("client_id", "subscription_key"):
        values = [getattr(item, name) for item in keys]
        if len(set(values)) != len(values):
            raise ValueError(f"every sales unit and partner needs its own {name}")
    for partner in partners:
        unknown = sorted((partner.msns or frozenset()) - set(msns))
        if unknown:
            raise ValueError(f"partner {partner.client_id} links unknown msn {', '.join(unknown)}")
