"""`payrequest sandbox`: run the emulator standalone (API at the root paths).

Credentials default to the documented test values in `config.py` and can also come from the
same environment variables payrequest itself reads (`PAYREQUEST_VIPPS__CLIENT_ID`, ...), so the
app and the emulator agree without extra setup. Registered in `payrequest.cli` as
`app.command("sandbox")(sandbox_command)`.

More sales units: `--extra-unit DK` (or `FI`) adds that market's documented test unit;
`--extra-unit "msn=222222,market=NO,client_id=...,client_secret=...,subscription_key=...,
merchant_name=..."` any other (repeat the option for several). `--partner` adds the documented
test partner keys, linked to every unit. Every unit's and partner's credentials are printed at
start (documented test values in full, anything else masked). `--auto-units` accepts the
automatic test units (`config.auto_unit`, docs/vipps.md#automatic-test-units) without listing
them.

The Stripe emulator is served under `/stripe` (docs/stripe.md#starting-it): `--stripe-secret-key`
(repeatable, default `sk_test_sandbox`) names its accounts, `--stripe-webhook URL` (repeatable)
registers an endpoint for every event at start; its stable signing secret is printed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Literal

import typer
import uvicorn

from payrequest.sandbox.config import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_MARKET,
    DEFAULT_MERCHANT_NAME,
    DEFAULT_MSN,
    DEFAULT_PORT,
    DEFAULT_RETRY_SCHEDULE,
    DEFAULT_SUBSCRIPTION_KEY,
    TEST_PARTNER,
    TEST_UNITS,
    PartnerKeys,
    SalesUnitConfig,
    SandboxConfig,
)
from payrequest.sandbox.faults import Faults
from payrequest.sandbox.standalone import create_standalone_app, stripe_banner
from payrequest.sandbox.stripe import ConfiguredWebhook, StripeConfig
from payrequest.sandbox.stripe.config import DEFAULT_SECRET_KEY

DEFAULT_STATE = Path("var/sandbox.db")
ENV = "PAYREQUEST_VIPPS__"
DEFAULT_SCHEDULE_TEXT = ",".join(f"{delay:g}" for delay in DEFAULT_RETRY_SCHEDULE)


def parse_schedule(text: str) -> tuple[float, ...]:
    """`"2,2,60"` -> (2.0, 2.0, 60.0)."""
    try:
        delays = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise typer.BadParameter("use comma-separated seconds, e.g. 2,2,2,60,120,3600") from exc
    if not delays or min(delays) < 0:
        raise typer.BadParameter("need at least one non-negative delay")
    return delays


UNIT_FIELDS = frozenset(
    {"msn", "market", "client_id", "client_secret", "subscription_key", "merchant_name"}
)
# Every documented test secret and subscription key: printed in full, anything else masked.
DOCUMENTED = frozenset(
    {DEFAULT_CLIENT_SECRET, DEFAULT_SUBSCRIPTION_KEY}
    | {unit.client_secret for unit in TEST_UNITS.values()}
    | {unit.subscription_key for unit in TEST_UNITS.values()}
    | {TEST_PARTNER.client_secret, TEST_PARTNER.subscription_key}
)


def shown(value: str, default: str | None = None) -> str:
    """Print the documented test values (`default`, or any of `DOCUMENTED`); mask anything
    else (it may be a real secret)."""
    return value if value == default or value in DOCUMENTED else value[:4] + "…"


def parse_unit(text: str) -> SalesUnitConfig:
    """`DK` -> the documented Danish test unit; `msn=...,market=...,client_id=...,...` -> a
    unit of those values (msn, client_id, client_secret and subscription_key are needed)."""
    code = text.strip().upper()
    if code in TEST_UNITS:
        return TEST_UNITS[code]
    if "=" not in text:
        raise typer.BadParameter(
            f"--extra-unit takes {' or '.join(sorted(TEST_UNITS))} (a documented test unit) "
            "or msn=...,market=...,client_id=...,client_secret=...,subscription_key=..."
        )
    values: dict[str, str] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip().replace("-", "_")
        if name not in UNIT_FIELDS:
            raise typer.BadParameter(f"--extra-unit: unknown field {name!r}")
        values[name] = value.strip()
    missing = sorted({"msn", "client_id", "client_secret", "subscription_key"} - set(values))
    if missing:
        raise typer.BadParameter(f"--extra-unit: {', '.join(missing)} needed")
    try:
        return SalesUnitConfig(
            msn=values["msn"],
            client_id=values["client_id"],
            client_secret=values["client_secret"],
            subscription_key=values["subscription_key"],
            market=values.get("market", DEFAULT_MARKET),
            merchant_name=values.get("merchant_name", DEFAULT_MERCHANT_NAME),
        )
    except ValueError as exc:
        raise typer.BadParameter(f"--extra-unit: {exc}") from exc


def situation(faults: Faults | SalesUnitConfig) -> str:
    """The sales unit's situation in a few words (what the switches say)."""
    return ", ".join(
        [
            "long-living " + ("approved" if faults.long_living_approved else "NOT approved"),
            "PUSH_MESSAGE " + ("approved" if faults.push_message_approved else "NOT approved"),
            "full captures only" if faults.full_capture_only else "partial captures",
            "bank account " + ("verified" if faults.bank_account_verified else "NOT verified"),
        ]
    )


def banner(config: SandboxConfig, url: str) -> str:
    state = config.state_path or "in memory (lost on exit)"
    secret = shown(config.client_secret, DEFAULT_CLIENT_SECRET)
    key = shown(config.subscription_key, DEFAULT_SUBSCRIPTION_KEY)
    return "\n".join(
        [
            "Vipps MobilePay sandbox (payrequest emulator)",
            f"  API base URL        {url}",
            f"  phone simulator     {url}/phone",
            f"  fault switches      {url}/faults  (GET / PUT / PATCH JSON)",
            f"  client_id           {config.client_id}",
            f"  client_secret       {secret}",
            f"  subscription key    {key}",
            f"  MSN                 {config.msn}  (market {config.market}, {config.currency})",
            f"  merchant name       {config.merchant_name}",
            f"  sales unit          {situation(config.faults)}",
            *(line for unit in config.extra_units for line in _unit_lines(unit)),
            *(line for partner in config.partners for line in _partner_lines(config, partner)),
            *(AUTO_LINES if config.auto_units else []),
            f"  state               {state}",
            f"  clock speed         x{config.clock_speed:g}",
        ]
    )


AUTO_LINES = [
    "  + automatic units   MSN 9000000-9999999, market NO, DK or FI (see docs/vipps.md)",
    "    client_id         sandbox-auto-<market lower>-<msn>",
    "    client_secret     sandbox-auto-secret-<msn>",
    "    subscription key  sandbox-auto-key-<msn>",
]


def _unit_lines(unit: SalesUnitConfig) -> list[str]:
    return [
        f"  + sales unit        MSN {unit.msn}  (market {unit.market}, {unit.currency})",
        f"    merchant name     {unit.merchant_name}",
        f"    client_id         {unit.client_id}",
        f"    client_secret     {shown(unit.client_secret)}",
        f"    subscription key  {shown(unit.subscription_key)}",
        f"    situation         {situation(unit)}",
    ]


def _partner_lines(config: SandboxConfig, partner: PartnerKeys) -> list[str]:
    linked = [unit.msn for unit in config.units if partner.links(unit.msn)]
    automatic = " + automatic units" if config.auto_units and partner.msns is None else ""
    return [
        f"  + partner keys      act for MSN {', '.join(linked)}{automatic}"
        " (send Merchant-Serial-Number)",
        f"    client_id         {partner.client_id}",
        f"    client_secret     {shown(partner.client_secret)}",
        f"    subscription key  {shown(partner.subscription_key)}",
    ]


def sandbox_command(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    client_id: Annotated[str, typer.Option(envvar=f"{ENV}CLIENT_ID")] = DEFAULT_CLIENT_ID,
    client_secret: Annotated[
        str, typer.Option(envvar=f"{ENV}CLIENT_SECRET")
    ] = DEFAULT_CLIENT_SECRET,
    subscription_key: Annotated[
        str, typer.Option(envvar=f"{ENV}SUBSCRIPTION_KEY")
    ] = DEFAULT_SUBSCRIPTION_KEY,
    msn: Annotated[str, typer.Option(envvar=f"{ENV}MERCHANT_SERIAL_NUMBER")] = DEFAULT_MSN,
    market: Annotated[
        str, typer.Option(envvar=f"{ENV}MARKET", help="NO, DK or FI (sets the currency).")
    ] = "NO",
    merchant_name: Annotated[str, typer.Option()] = DEFAULT_MERCHANT_NAME,
    state: Annotated[
        str, typer.Option(help="SQLite file for the emulator's state; '' keeps it in memory.")
    ] = str(DEFAULT_STATE),
    seed: Annotated[int | None, typer.Option(help="Seed for the fault random source.")] = None,
    retry_schedule: Annotated[
        str, typer.Option(help="Webhook retry delays in seconds, comma-separated.")
    ] = DEFAULT_SCHEDULE_TEXT,
    clock_speed: Annotated[
        float, typer.Option(min=0.001, help="Speed-up for expiry: 60 = 10 min in 10 s.")
    ] = 1.0,
    latency_ms: Annotated[int, typer.Option(min=0, help="Added latency per API call.")] = 0,
    error_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of 5xx.")] = 0.0,
    rate_limit_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of 429.")] = 0.0,
    timeout_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of calls that time out.")
    ] = 0.0,
    timeout_mode: Annotated[str, typer.Option(help="hang or close.")] = "hang",
    hang_seconds: Annotated[float, typer.Option(min=0.0)] = 15.0,
    webhook_drop_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.0,
    webhook_duplicate_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.0,
    webhook_reorder_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.0,
    magic_amounts: Annotated[
        bool, typer.Option(help="Fail approval/refund for the test-environment amounts.")
    ] = True,
    rate_limits: Annotated[bool, typer.Option(help="Per-reference rate limits.")] = True,
    operation_hold_ms: Annotated[
        int, typer.Option(min=0, help="How long a capture/refund/cancel locks its payment.")
    ] = 0,
    long_living_approved: Annotated[
        bool, typer.Option(help="Sales unit approved for expiresAt (else 5050).")
    ] = True,
    push_message_approved: Annotated[
        bool, typer.Option(help="Sales unit approved for PUSH_MESSAGE (else 5080).")
    ] = True,
    full_capture_only: Annotated[
        bool, typer.Option(help="Sales unit takes full captures only (a partial one is 6140).")
    ] = False,
    bank_account_verified: Annotated[
        bool, typer.Option(help="Merchant's bank account verified (else every create is 5060).")
    ] = True,
    extra_unit: Annotated[
        list[str] | None,
        typer.Option(
            help="Another sales unit: DK or FI (a documented test unit) or "
            "msn=...,market=...,client_id=...,client_secret=...,subscription_key=...,"
            "merchant_name=... (repeatable)."
        ),
    ] = None,
    partner: Annotated[
        bool, typer.Option(help="Add the documented test partner keys, linked to every unit.")
    ] = False,
    auto_units: Annotated[
        bool,
        typer.Option(
            help="Accept the automatic test units (MSN 9000000-9999999, client id "
            "sandbox-auto-<market>-<msn>) without configuring them."
        ),
    ] = False,
    stripe_secret_key: Annotated[
        list[str] | None,
        typer.Option(
            help=f"A secret key of the Stripe emulator (repeatable; default {DEFAULT_SECRET_KEY})."
        ),
    ] = None,
    stripe_webhook: Annotated[
        list[str] | None,
        typer.Option(help="A URL the Stripe emulator sends every event to (repeatable)."),
    ] = None,
) -> None:
    """Run the Vipps MobilePay emulator with its phone simulator, and the Stripe emulator."""
    if timeout_mode not in ("hang", "close"):
        raise typer.BadParameter("timeout-mode must be hang or close")
    mode: Literal["hang", "close"] = "hang" if timeout_mode == "hang" else "close"
    faults = Faults(
        latency_ms=latency_ms,
        error_rate=error_rate,
        rate_limit_rate=rate_limit_rate,
        timeout_rate=timeout_rate,
        timeout_mode=mode,
        hang_seconds=hang_seconds,
        webhook_drop_rate=webhook_drop_rate,
        webhook_duplicate_rate=webhook_duplicate_rate,
        webhook_reorder_rate=webhook_reorder_rate,
        magic_amounts=magic_amounts,
        rate_limits=rate_limits,
        clock_speed=clock_speed,
        operation_hold_ms=operation_hold_ms,
        long_living_approved=long_living_approved,
        push_message_approved=push_message_approved,
        full_capture_only=full_capture_only,
        bank_account_verified=bank_account_verified,
    )
    try:
        config = SandboxConfig(
            client_id=client_id,
            client_secret=client_secret,
            subscription_key=subscription_key,
            msn=msn,
            market=market,
            merchant_name=merchant_name,
            state_path=Path(state) if state else None,
            seed=seed,
            webhook_retry_schedule=parse_schedule(retry_schedule),
            clock_speed=clock_speed,
            faults=faults,
            extra_units=tuple(parse_unit(text) for text in extra_unit or ()),
            auto_units=auto_units,
        )
        if partner:
            config = dataclasses.replace(config, partners=(*config.partners, TEST_PARTNER))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    try:
        stripe_config = StripeConfig(
            secret_keys=tuple(stripe_secret_key or (DEFAULT_SECRET_KEY,)),
            webhooks=tuple(ConfiguredWebhook(url) for url in stripe_webhook or ()),
            seed=seed,
            clock_speed=clock_speed,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(banner(config, f"http://{host}:{port}"))
    typer.echo(stripe_banner(stripe_config, f"http://{host}:{port}"))
    app = create_standalone_app(config, stripe_config)
    uvicorn.run(app, host=host, port=port, log_level="info")
