"""Automatic test units (docs/vipps.md#automatic-test-units): with `auto_units` on, any MSN of
9000000-9999999 is a sales unit with the deterministic credentials `auto_unit` gives, of the
market its client id names, without configuration; its own payments, webhooks, situation and
merchant name as any configured unit; known again after a restart with a state file."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from payrequest.sandbox import Faults, SandboxConfig, create_sandbox_app, sandbox_of_app
from payrequest.sandbox.config import (
    DEFAULT_MSN,
    DK_TEST_UNIT,
    TEST_PARTNER,
    SalesUnitConfig,
    auto_unit,
)
from payrequest.sandbox.emulator import Sandbox
from tests.sandbox.helpers import (
    FAST_RETRIES,
    RECEIPT,
    Receiver,
    check_contract,
    error_code,
    new_reference,
)
from tests.sandbox.test_units import PARTNER_KEYS, Caller, claims
from tests.sandbox.test_webhooks import verify

NO_UNIT = auto_unit("NO", "9000001")
DK_UNIT = auto_unit("dk", "9000002")
DK_USER = "4512345678"


def keys(unit: SalesUnitConfig) -> tuple[str, str, str]:
    return (unit.client_id, unit.client_secret, unit.subscription_key)


def settings(**changes: Any) -> SandboxConfig:
    """The tests' usual emulator as the demo has it (`with_test_units()`), with `changes`."""
    base = SandboxConfig(
        seed=1234,
        webhook_retry_schedule=FAST_RETRIES,
        sweep_interval=0.02,
        webhook_timeout=2.0,
        faults=Faults(rate_limits=False),
    ).with_test_units()
    return dataclasses.replace(base, **changes)


@pytest.fixture
def config() -> SandboxConfig:
    return settings()


def client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://sandbox.test",
        event_hooks={"response": [check_contract]},
    )


async def token_response(
    http: httpx.AsyncClient, client_id: str, secret: str, subscription_key: str
) -> httpx.Response:
    return await http.post(
        "/accesstoken/get",
        headers={
            "client_id": client_id,
            "client_secret": secret,
            "Ocp-Apim-Subscription-Key": subscription_key,
        },
    )


# --- the helper -------------------------------------------------------------------------------


def test_auto_unit_gives_documented_deterministic_credentials() -> None:
    unit = auto_unit("dk", "9000002")
    assert unit == DK_UNIT
    assert (unit.client_id, unit.client_secret, unit.subscription_key) == (
        "sandbox-auto-dk-9000002",
        "sandbox-auto-secret-9000002",
        "sandbox-auto-key-9000002",
    )
    assert (unit.market, unit.currency, unit.merchant_name) == (
        "DK",
        "DKK",
        "Test merchant 9000002",
    )
    assert unit.long_living_approved and unit.push_message_approved
    assert unit.bank_account_verified and not unit.full_capture_only
    for msn in ("123456", "8999999", "90000001", "900000x"):
        with pytest.raises(ValueError, match="msn"):
            auto_unit("NO", msn)
    with pytest.raises(ValueError, match="market"):
        auto_unit("SE", "9000003")


def test_with_test_units_switches_automatic_units_on() -> None:
    assert SandboxConfig().auto_units is False
    assert SandboxConfig().with_test_units().auto_units is True
    assert SandboxConfig().with_test_units(auto_units=False).auto_units is False


# --- two automatic units side by side ----------------------------------------------------


async def test_two_automatic_units_take_payments_side_by_side(
    client: httpx.AsyncClient, sb: Sandbox
) -> None:
    norway = await Caller(client, keys(NO_UNIT), NO_UNIT.msn).login()
    denmark = await Caller(client, keys(DK_UNIT), DK_UNIT.msn).login()
    assert (claims(norway.token)["msn"], claims(denmark.token)["msn"]) == ("9000001", "9000002")
    reference = new_reference()  # the same reference in both: unique per MSN only
    assert (await norway.create(reference, "NOK")).status_code == 201
    made = await denmark.create(reference, "DKK", customer={"phoneNumber": DK_USER})
    assert made.status_code == 201, made.text
    assert error_code(await denmark.create(new_reference(), "NOK")) == "5040"
    assert (await norway.get(reference)).json()["amount"]["currency"] == "NOK"
    assert (await denmark.get(reference)).json()["amount"]["currency"] == "DKK"
    # Approve and capture on the Danish unit; the Norwegian one is untouched.
    approved = await denmark.approve(reference, {"customer": {"phoneNumber": DK_USER}})
    assert approved.status_code == 200
    assert (await denmark.capture(reference, "DKK", 49900)).status_code == 200
    assert (await norway.get(reference)).json()["state"] == "CREATED"
    stored = sb.store.payment(DK_UNIT.msn, reference)
    assert stored is not None and stored.currency == "DKK" and stored.phone == DK_USER
    # Listed with their merchant names once used.
    units = {u["msn"]: u for u in (await client.get("/units")).json()}
    assert units["9000002"]["merchantName"] == "Test merchant 9000002"
    assert units["9000002"]["auto"] is True and units[DEFAULT_MSN]["auto"] is False
    assert units["9000002"]["situation"]["long_living_approved"] is True
    index = (await client.get("/phone")).text
    assert "Test merchant 9000001" in index and "Test merchant 9000002" in index
    page = (await client.get(f"/phone/{DK_USER}/live")).text
    assert "Test merchant 9000002" in page and "MobilePay · Denmark (DKK)" in page


async def test_automatic_units_are_approved_like_the_default_test_units(
    client: httpx.AsyncClient,
) -> None:
    """Long-living requests, PUSH_MESSAGE, partial captures: as the demo's default unit."""
    denmark = await Caller(client, keys(DK_UNIT), DK_UNIT.msn).login()
    expires = (datetime.now(UTC) + timedelta(hours=23)).strftime("%Y-%m-%dT%H:%M:%SZ")
    reference = new_reference()
    made = await denmark.create(
        reference,
        "DKK",
        userFlow="PUSH_MESSAGE",
        expiresAt=expires,
        receipt=RECEIPT,
        customer={"phoneNumber": DK_USER},
    )
    assert made.status_code == 201, made.text
    approved = await denmark.approve(reference, {"customer": {"phoneNumber": DK_USER}})
    assert approved.status_code == 200, approved.text
    partial = await denmark.capture(reference, "DKK", 100)
    assert partial.status_code == 200, partial.text


async def test_an_automatic_units_keys_with_another_units_msn_are_refused(
    client: httpx.AsyncClient,
) -> None:
    norway = await Caller(client, keys(NO_UNIT), NO_UNIT.msn).login()
    denmark = await Caller(client, keys(DK_UNIT), DK_UNIT.msn).login()
    reference = new_reference()
    assert (await denmark.create(reference, "DKK")).status_code == 201
    for foreign in (
        norway.as_unit(DK_UNIT.msn),
        denmark.as_unit(NO_UNIT.msn),
        norway.as_unit(DEFAULT_MSN),
        norway.as_unit("9000099"),  # an automatic unit nobody used
    ):
        assert (await foreign.create(new_reference(), "DKK")).status_code == 403
        assert (await foreign.get(reference)).status_code == 403
        assert (await foreign.webhooks()).status_code == 403
    assert (await norway.get(reference)).status_code == 404
    # A token of one automatic unit with another's subscription key.
    mixed = Caller(client, (*keys(NO_UNIT)[:2], DK_UNIT.subscription_key), NO_UNIT.msn)
    mixed.token = norway.token
    assert (await mixed.get(reference)).status_code == 401


async def test_wrong_derived_credentials_are_refused(client: httpx.AsyncClient) -> None:
    client_id, secret, key = keys(NO_UNIT)
    wrong_secret = await token_response(client, client_id, "sandbox-auto-secret-9000002", key)
    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"
    unknown_key = await token_response(client, client_id, secret, "sandbox-auto-key-123")
    assert unknown_key.status_code == 401
    assert unknown_key.json()["message"].startswith("Access denied due to invalid")
    outside = await token_response(
        client, "sandbox-auto-no-8000001", "sandbox-auto-secret-8000001", "sandbox-auto-key-9000001"
    )
    assert outside.status_code == 401 and outside.json()["error"] == "unauthorized_client"
    # Nothing was learnt from the refused attempts.
    assert "9000001" not in {u["msn"] for u in (await client.get("/units")).json()}
    # The right key, then an API call with a key that is not the token's.
    caller = await Caller(client, keys(NO_UNIT), NO_UNIT.msn).login()
    wrong_key = Caller(client, (client_id, secret, "sandbox-auto-key-9000003"), NO_UNIT.msn)
    wrong_key.token = caller.token
    response = await wrong_key.get(new_reference())
    assert response.status_code == 401 and set(response.json()) == {"statusCode", "message"}


async def test_an_msn_keeps_the_market_it_was_first_used_with(client: httpx.AsyncClient) -> None:
    await Caller(client, keys(NO_UNIT), NO_UNIT.msn).login()
    danish_twin = auto_unit("DK", NO_UNIT.msn)
    assert danish_twin.client_secret == NO_UNIT.client_secret  # the secret names the MSN only
    refused = await token_response(client, *keys(danish_twin))
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized_client"


async def test_configured_units_win_over_automatic_ones() -> None:
    configured = SalesUnitConfig("9000005", "shop-5", "secret-5", "key-5")
    app = create_sandbox_app(settings(extra_units=(DK_TEST_UNIT, configured)))
    try:
        async with client_of(app) as http:
            auto = auto_unit("NO", "9000005")
            assert (await token_response(http, *keys(auto))).status_code == 401
            assert (await token_response(http, *keys(configured))).status_code == 200
    finally:
        sandbox_of_app(app).close()


async def test_automatic_units_off_are_unknown_keys() -> None:
    app = create_sandbox_app(settings(auto_units=False))
    try:
        async with client_of(app) as http:
            response = await token_response(http, *keys(NO_UNIT))
            assert response.status_code == 401
            assert response.json()["message"].startswith("Access denied due to invalid")
            # Even with a known subscription key, the automatic client id is unknown.
            known_key = await token_response(
                http, NO_UNIT.client_id, NO_UNIT.client_secret, DK_TEST_UNIT.subscription_key
            )
            assert known_key.status_code == 401
            assert known_key.json()["error"] == "unauthorized_client"
    finally:
        sandbox_of_app(app).close()


# --- webhooks, partner keys -------------------------------------------------------------


async def test_webhooks_of_an_automatic_unit_go_only_to_its_registrations(
    client: httpx.AsyncClient, receiver: Receiver, sb: Sandbox
) -> None:
    await sb.start()
    norway = await Caller(client, keys(NO_UNIT), NO_UNIT.msn).login()
    denmark = await Caller(client, keys(DK_UNIT), DK_UNIT.msn).login()
    no_url, dk_url = receiver.url("/no"), receiver.url("/dk")
    no_hook = (await norway.register(no_url)).json()
    dk_hook = (await denmark.register(dk_url)).json()
    assert [h["id"] for h in (await norway.webhooks()).json()["webhooks"]] == [no_hook["id"]]
    assert [h["id"] for h in (await denmark.webhooks()).json()["webhooks"]] == [dk_hook["id"]]
    dk_ref = new_reference()
    assert (await denmark.create(dk_ref, "DKK")).status_code == 201
    await receiver.wait_for(1)
    await asyncio.sleep(0.2)  # room for a wrong delivery to arrive
    assert [call.path for call in receiver.calls] == ["/dk"]
    call = receiver.calls[0]
    event = json.loads(call.body)
    assert (event["msn"], event["reference"], event["name"]) == ("9000002", dk_ref, "CREATED")
    assert verify(dk_hook["secret"], dk_url, call.headers, call.body)
    assert not verify(no_hook["secret"], dk_url, call.headers, call.body)
    # One unit cannot delete the other's registration.
    path = f"/webhooks/v1/webhooks/{dk_hook['id']}"
    assert (await norway.http.delete(path, headers=norway.headers())).status_code == 404


async def test_partner_keys_for_every_unit_act_for_used_automatic_units(
    client: httpx.AsyncClient,
) -> None:
    partner = await Caller(client, PARTNER_KEYS, None).login()
    assert TEST_PARTNER.msns is None
    unused = partner.as_unit("9000007")  # no market known yet: not a unit
    assert (await unused.create(new_reference(), "NOK")).status_code == 403
    denmark = await Caller(client, keys(DK_UNIT), DK_UNIT.msn).login()
    for_dk = partner.as_unit(DK_UNIT.msn)  # the partner's token is older than the unit
    reference = new_reference()
    assert (await for_dk.create(reference, "DKK")).status_code == 201
    assert (await denmark.get(reference)).json()["amount"]["currency"] == "DKK"
    units = {u["msn"]: u for u in (await client.get("/units")).json()}
    assert units[DK_UNIT.msn]["partners"] == [TEST_PARTNER.client_id]


# --- restarts -----------------------------------------------------------------------------


@pytest.fixture
async def persisted(tmp_path: Path) -> AsyncIterator[SandboxConfig]:
    yield settings(state_path=tmp_path / "sandbox.db")


async def test_automatic_units_survive_a_restart(persisted: SandboxConfig) -> None:
    reference = new_reference()
    first = create_sandbox_app(persisted)
    try:
        async with client_of(first) as http:
            denmark = await Caller(http, keys(DK_UNIT), DK_UNIT.msn).login()
            assert (await denmark.create(reference, "DKK")).status_code == 201
            hook = (await denmark.register("https://hooks.example/dk")).json()
            token = denmark.token
    finally:
        sandbox_of_app(first).close()
    second = create_sandbox_app(persisted)  # a new process: nothing but the state file
    try:
        assert DK_UNIT.msn in sandbox_of_app(second).units
        async with client_of(second) as http:
            index = (await http.get("/phone")).text
            assert "Test merchant 9000002" in index
            again = Caller(http, keys(DK_UNIT), DK_UNIT.msn)
            again.token = token  # the old token still works: the state keeps the token key
            got = await again.get(reference)
            assert got.status_code == 200 and got.json()["amount"]["currency"] == "DKK"
            fresh = await Caller(http, keys(DK_UNIT), DK_UNIT.msn).login()
            hooks = (await fresh.webhooks()).json()["webhooks"]
            assert [h["id"] for h in hooks] == [hook["id"]]
    finally:
        sandbox_of_app(second).close()
    off = create_sandbox_app(settings(state_path=persisted.state_path, auto_units=False))
    try:
        assert DK_UNIT.msn not in sandbox_of_app(off).units
        async with client_of(off) as http:
            assert (await token_response(http, *keys(DK_UNIT))).status_code == 401
    finally:
        sandbox_of_app(off).close()


async def test_a_unit_used_by_another_process_is_known(persisted: SandboxConfig) -> None:
    """Two emulators on one state file (the demo under several workers): a token got from
    one works with the other, which has not seen the unit yet."""
    one, two = create_sandbox_app(persisted), create_sandbox_app(persisted)
    try:
        async with client_of(one) as http_one, client_of(two) as http_two:
            denmark = await Caller(http_one, keys(DK_UNIT), DK_UNIT.msn).login()
            assert DK_UNIT.msn not in sandbox_of_app(two).units
            elsewhere = Caller(http_two, keys(DK_UNIT), DK_UNIT.msn)
            elsewhere.token = denmark.token
            assert (await elsewhere.create(new_reference(), "DKK")).status_code == 201
    finally:
        sandbox_of_app(one).close()
        sandbox_of_app(two).close()


def test_the_command_switches_automatic_units_on(monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    import uvicorn
    from typer.testing import CliRunner

    from payrequest.sandbox import cli as sandbox_cli

    runs: list[Sandbox] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: runs.append(sandbox_of_app(app)))
    command = typer.Typer()
    command.command()(sandbox_cli.sandbox_command)
    result = CliRunner().invoke(command, ["--state", "", "--auto-units", "--partner"], env={})
    assert result.exit_code == 0, result.output
    for text in ("sandbox-auto-<market lower>-<msn>", "sandbox-auto-secret-<msn>", "9000000"):
        assert text in result.output, text
    assert "act for MSN 123456 + automatic units" in result.output
    assert runs[0].config.auto_units is True
    plain = CliRunner().invoke(command, ["--state", ""], env={})
    assert "sandbox-auto-" not in plain.output and runs[1].config.auto_units is False
