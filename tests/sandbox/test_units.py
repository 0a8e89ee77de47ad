"""Several sales units in one emulator, and partner keys (docs/vipps.md#partner-keys,
docs/vipps.md#several-sales-units-in-the-emulator): a Norwegian NOK unit and a Danish DKK unit
side by side, each with its own keys, payments and webhooks; partner keys acting for both with
the `Merchant-Serial-Number` header; every way of mixing them up refused."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from payrequest.sandbox import Faults, SandboxConfig, create_sandbox_app, sandbox_of_app
from payrequest.sandbox import cli as sandbox_cli
from payrequest.sandbox.config import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_MSN,
    DEFAULT_SUBSCRIPTION_KEY,
    DK_TEST_UNIT,
    TEST_PARTNER,
    PartnerKeys,
    SalesUnitConfig,
)
from payrequest.sandbox.emulator import Sandbox
from tests.sandbox.helpers import (
    FAST_RETRIES,
    Receiver,
    check_contract,
    create_body,
    error_code,
    new_reference,
)
from tests.sandbox.test_webhooks import ALL_EVENTS, verify

NO_MSN, DK_MSN = DEFAULT_MSN, DK_TEST_UNIT.msn
NO_USER, DK_USER = "4791234567", "4512345678"
NO_KEYS = (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_SUBSCRIPTION_KEY)
DK_KEYS = (DK_TEST_UNIT.client_id, DK_TEST_UNIT.client_secret, DK_TEST_UNIT.subscription_key)
PARTNER_KEYS = (TEST_PARTNER.client_id, TEST_PARTNER.client_secret, TEST_PARTNER.subscription_key)


@pytest.fixture
def config() -> SandboxConfig:
    """The tests' usual emulator, plus the Danish test unit and the test partner keys."""
    return SandboxConfig(
        seed=1234,
        webhook_retry_schedule=FAST_RETRIES,
        sweep_interval=0.02,
        webhook_timeout=2.0,
        faults=Faults(rate_limits=False),
    ).with_test_units()


class Caller:
    """A client holding one set of keys, sending `msn` (None: no header) on every call."""

    def __init__(
        self, http: httpx.AsyncClient, keys: tuple[str, str, str], msn: str | None
    ) -> None:
        self.http, self.keys, self.msn = http, keys, msn
        self.token = ""

    async def login(self) -> Caller:
        client_id, secret, subscription_key = self.keys
        response = await self.http.post(
            "/accesstoken/get",
            headers={
                "client_id": client_id,
                "client_secret": secret,
                "Ocp-Apim-Subscription-Key": subscription_key,
            },
        )
        assert response.status_code == 200, response.text
        self.token = response.json()["access_token"]
        return self

    def as_unit(self, msn: str | None) -> Caller:
        """The same keys and token, another `Merchant-Serial-Number` header."""
        other = Caller(self.http, self.keys, msn)
        other.token = self.token
        return other

    def headers(self, key: str | None = None) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Ocp-Apim-Subscription-Key": self.keys[2],
        }
        if self.msn is not None:
            headers["Merchant-Serial-Number"] = self.msn
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    async def create(self, reference: str, currency: str, **overrides: Any) -> httpx.Response:
        body = create_body(
            reference, **{"amount": {"currency": currency, "value": 49900}, **overrides}
        )
        return await self.http.post(
            "/epayment/v1/payments", json=body, headers=self.headers(uuid.uuid4().hex)
        )

    async def get(self, reference: str) -> httpx.Response:
        return await self.http.get(f"/epayment/v1/payments/{reference}", headers=self.headers())

    async def approve(self, reference: str, body: Any) -> httpx.Response:
        path = f"/epayment/v1/test/payments/{reference}/approve"
        return await self.http.post(path, json=body, headers=self.headers())

    async def capture(self, reference: str, currency: str, value: int) -> httpx.Response:
        body = {"modificationAmount": {"currency": currency, "value": value}}
        path = f"/epayment/v1/payments/{reference}/capture"
        return await self.http.post(path, json=body, headers=self.headers(uuid.uuid4().hex))

    async def register(self, url: str) -> httpx.Response:
        body = {"url": url, "events": ALL_EVENTS}
        return await self.http.post("/webhooks/v1/webhooks", json=body, headers=self.headers())

    async def webhooks(self) -> httpx.Response:
        return await self.http.get("/webhooks/v1/webhooks", headers=self.headers())


@pytest.fixture
async def norway(client: httpx.AsyncClient) -> Caller:
    return await Caller(client, NO_KEYS, NO_MSN).login()


@pytest.fixture
async def denmark(client: httpx.AsyncClient) -> Caller:
    return await Caller(client, DK_KEYS, DK_MSN).login()


@pytest.fixture
async def partner(client: httpx.AsyncClient) -> Caller:
    return await Caller(client, PARTNER_KEYS, None).login()


def claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


# --- two units side by side ---------------------------------------------------------------


async def test_each_unit_creates_with_its_own_keys_in_its_own_currency(
    norway: Caller, denmark: Caller, sb: Sandbox
) -> None:
    reference = new_reference()  # the same reference in both: unique per MSN only
    made_no = await norway.create(reference, "NOK")
    made_dk = await denmark.create(reference, "DKK", customer={"phoneNumber": DK_USER})
    assert (made_no.status_code, made_dk.status_code) == (201, 201), made_dk.text
    got_no, got_dk = (await norway.get(reference)).json(), (await denmark.get(reference)).json()
    assert got_no["amount"] == {"currency": "NOK", "value": 49900}
    assert got_dk["amount"] == {"currency": "DKK", "value": 49900}
    assert got_no["pspReference"] != got_dk["pspReference"]
    stored_no, stored_dk = sb.store.payment(NO_MSN, reference), sb.store.payment(DK_MSN, reference)
    assert stored_no is not None and stored_no.phone == NO_USER
    assert stored_dk is not None and stored_dk.phone == DK_USER
    assert (claims(norway.token)["msn"], claims(denmark.token)["msn"]) == (NO_MSN, DK_MSN)


async def test_the_danish_unit_charges_dkk_only(norway: Caller, denmark: Caller) -> None:
    nok_to_dk = await denmark.create(new_reference(), "NOK")
    assert nok_to_dk.status_code == 400 and error_code(nok_to_dk) == "5040"
    assert "DKK" in nok_to_dk.json()["detail"]
    dkk_to_no = await norway.create(new_reference(), "DKK")
    assert dkk_to_no.status_code == 400 and error_code(dkk_to_no) == "5040"
    small = await denmark.create(new_reference(), "DKK", amount={"currency": "DKK", "value": 1})
    assert small.status_code == 201  # 0.01 DKK is enough in Denmark, not 1.00 as in Norway


async def test_a_units_keys_with_the_other_units_msn_are_refused(
    norway: Caller, denmark: Caller
) -> None:
    reference = new_reference()
    assert (await denmark.create(reference, "DKK")).status_code == 201
    for caller, msn in ((norway, DK_MSN), (denmark, NO_MSN)):
        foreign = caller.as_unit(msn)
        assert (await foreign.create(new_reference(), "DKK")).status_code == 403
        assert (await foreign.get(reference)).status_code == 403
        assert (await foreign.register("https://example.com/h")).status_code == 403
        assert (await foreign.webhooks()).status_code == 403
        userinfo = await foreign.http.get(
            "/vipps-userinfo-api/userinfo/x", headers=foreign.headers()
        )
        assert userinfo.status_code == 403
    # Without the header, a unit's keys mean their own unit: Norway does not see Denmark's.
    assert (await norway.as_unit(None).webhooks()).status_code == 200
    assert (await norway.get(reference)).status_code == 404


async def test_a_token_works_only_with_its_own_subscription_key(
    client: httpx.AsyncClient, norway: Caller, denmark: Caller
) -> None:
    mixed = Caller(client, (*NO_KEYS[:2], DK_KEYS[2]), NO_MSN)
    mixed.token = norway.token
    response = await mixed.get(new_reference())
    assert response.status_code == 401 and set(response.json()) == {"statusCode", "message"}
    mixed_dk = Caller(client, (*DK_KEYS[:2], NO_KEYS[2]), DK_MSN)
    mixed_dk.token = denmark.token
    assert (await mixed_dk.get(new_reference())).status_code == 401


async def test_webhooks_go_to_the_units_own_registrations(
    norway: Caller, denmark: Caller, partner: Caller, receiver: Receiver, sb: Sandbox
) -> None:
    await sb.start()
    no_url, dk_url = receiver.url("/no"), receiver.url("/dk")
    partner_dk_url = receiver.url("/partner-dk")
    no_hook = (await norway.register(no_url)).json()
    dk_hook = (await denmark.register(dk_url)).json()
    partner_hook = (await partner.as_unit(DK_MSN).register(partner_dk_url)).json()
    assert [h["id"] for h in (await norway.webhooks()).json()["webhooks"]] == [no_hook["id"]]
    assert [h["id"] for h in (await denmark.webhooks()).json()["webhooks"]] == [
        dk_hook["id"],
        partner_hook["id"],
    ]
    no_ref, dk_ref = new_reference(), new_reference()
    assert (await norway.create(no_ref, "NOK")).status_code == 201
    assert (await denmark.create(dk_ref, "DKK")).status_code == 201
    await receiver.wait_for(3)
    await asyncio.sleep(0.2)  # room for a wrong delivery to arrive
    assert sorted(call.path for call in receiver.calls) == ["/dk", "/no", "/partner-dk"]
    by_path = {call.path: call for call in receiver.calls}
    assert set(by_path) == {"/no", "/dk", "/partner-dk"}
    expected = {
        "/no": (no_url, no_hook["secret"], NO_MSN, no_ref, "NOK"),
        "/dk": (dk_url, dk_hook["secret"], DK_MSN, dk_ref, "DKK"),
        "/partner-dk": (partner_dk_url, partner_hook["secret"], DK_MSN, dk_ref, "DKK"),
    }
    for path, (url, secret, msn, reference, currency) in expected.items():
        call = by_path[path]
        event = json.loads(call.body)
        assert (event["msn"], event["reference"], event["name"]) == (msn, reference, "CREATED")
        assert event["amount"]["currency"] == currency
        assert verify(secret, url, call.headers, call.body), path
        others = [s for p, (_, s, *_rest) in expected.items() if p != path]
        assert not any(verify(other, url, call.headers, call.body) for other in others)
    # A unit cannot delete another unit's registration.
    path = f"/webhooks/v1/webhooks/{dk_hook['id']}"
    assert (await norway.http.delete(path, headers=norway.headers())).status_code == 404
    assert (await denmark.http.delete(path, headers=denmark.headers())).status_code == 204


# --- partner keys -----------------------------------------------------------------------------


async def test_partner_keys_act_for_both_units_with_the_msn_header(
    partner: Caller, norway: Caller, denmark: Caller
) -> None:
    assert claims(partner.token)["partner"] is True and "msn" not in claims(partner.token)
    for_no, for_dk = partner.as_unit(NO_MSN), partner.as_unit(DK_MSN)
    no_ref, dk_ref = new_reference(), new_reference()
    assert (await for_no.create(no_ref, "NOK")).status_code == 201
    assert (
        await for_dk.create(dk_ref, "DKK", customer={"phoneNumber": DK_USER})
    ).status_code == 201
    nok_to_dk = await for_dk.create(new_reference(), "NOK")
    assert error_code(nok_to_dk) == "5040"  # the unit named by the MSN decides the currency
    assert (await for_dk.approve(dk_ref, {"customer": {"phoneNumber": DK_USER}})).status_code == 200
    captured = await for_dk.capture(dk_ref, "DKK", 49900)
    assert captured.status_code == 200, captured.text
    # The units see what the partner did for them, and only their own.
    assert (await denmark.get(dk_ref)).json()["aggregate"]["capturedAmount"]["value"] == 49900
    assert (await norway.get(no_ref)).json()["state"] == "CREATED"
    assert (await norway.get(dk_ref)).status_code == 404
    assert (await for_no.get(dk_ref)).status_code == 404


async def test_partner_keys_without_the_header_are_refused(partner: Caller) -> None:
    bare = partner.as_unit(None)
    missing = await bare.create(new_reference(), "NOK")
    assert missing.status_code == 400
    assert missing.json()["extraDetails"][0]["name"] == "Merchant-Serial-Number"
    assert (await bare.get(new_reference())).status_code == 400
    assert (await bare.register("https://example.com/h")).status_code == 403
    assert (await bare.webhooks()).status_code == 403
    userinfo = await bare.http.get("/vipps-userinfo-api/userinfo/x", headers=bare.headers())
    assert userinfo.status_code == 403
    unknown = partner.as_unit("999999")
    assert (await unknown.create(new_reference(), "NOK")).status_code == 403
    assert (await unknown.webhooks()).status_code == 403


async def test_partner_keys_act_only_for_linked_units() -> None:
    config = SandboxConfig(
        extra_units=(DK_TEST_UNIT,),
        partners=(PartnerKeys("p-dk", "p-dk-secret", "p-dk-key", frozenset({DK_MSN})),),
    )
    app = create_sandbox_app(config)
    try:
        async with _client(app) as http:
            linked = await Caller(http, ("p-dk", "p-dk-secret", "p-dk-key"), DK_MSN).login()
            assert (await linked.create(new_reference(), "DKK")).status_code == 201
            assert (await linked.as_unit(NO_MSN).create(new_reference(), "NOK")).status_code == 403
    finally:
        sandbox_of_app(app).close()


# --- the phone, the controls ----------------------------------------------------------------


async def test_the_phone_shows_merchant_and_market(
    client: httpx.AsyncClient, norway: Caller, denmark: Caller
) -> None:
    no_ref, dk_ref = new_reference(), new_reference()
    await norway.create(no_ref, "NOK", customer={"phoneNumber": DK_USER})
    await denmark.create(dk_ref, "DKK", customer={"phoneNumber": DK_USER})
    page = (await client.get(f"/phone/{DK_USER}/live")).text
    assert "Sandbox Merchant DK" in page and "MobilePay · Denmark (DKK)" in page
    assert "Vipps · Norway (NOK)" in page
    assert f"/payments/{dk_ref}/approve?msn={DK_MSN}" in page
    approved = await client.post(f"/phone/{DK_USER}/payments/{dk_ref}/approve?msn={DK_MSN}")
    assert approved.status_code == 200 and "Payment approved" in approved.text
    assert (await denmark.get(dk_ref)).json()["state"] == "AUTHORIZED"
    assert (await norway.get(no_ref)).json()["state"] == "CREATED"
    wrong_unit = await client.post(f"/phone/{DK_USER}/payments/{dk_ref}/approve?msn={NO_MSN}")
    assert wrong_unit.status_code == 404
    index = (await client.get("/phone")).text
    assert "Sandbox Merchant DK" in index and f"MSN {DK_MSN}" in index
    assert f'href="/phone/{DK_USER}"' in index and f'href="/phone/{NO_USER}"' in index


async def test_the_landing_page_and_force_approve_use_the_units_market(
    client: httpx.AsyncClient, denmark: Caller
) -> None:
    reference = new_reference()
    created = await denmark.create(
        reference, "DKK", userFlow="WEB_REDIRECT", customer=None, returnUrl="https://s.example/r"
    )
    token = created.json()["redirectUrl"].split("token=")[1]
    landing = (await client.get(f"/landing?token={token}")).text
    assert "Pay Sandbox Merchant DK" in landing and "Denmark (DKK)" in landing
    assert (await denmark.approve(reference, {"token": token})).status_code == 200
    assert (await denmark.get(reference)).json()["state"] == "AUTHORIZED"
    native = await denmark.create(new_reference(), "DKK", userFlow="NATIVE_REDIRECT")
    assert native.json()["redirectUrl"].startswith("mobilepay://")


async def test_each_unit_has_its_own_situation(
    client: httpx.AsyncClient, norway: Caller, denmark: Caller
) -> None:
    units = {u["msn"]: u for u in (await client.get("/units")).json()}
    assert units[DK_MSN]["currency"] == "DKK" and units[NO_MSN]["default"] is True
    assert units[DK_MSN]["partners"] == [TEST_PARTNER.client_id]
    patched = await client.patch(f"/units/{DK_MSN}", json={"push_message_approved": False})
    assert patched.status_code == 200 and patched.json()["push_message_approved"] is False
    refused = await denmark.create(new_reference(), "DKK")
    assert error_code(refused) == "5080"
    assert (await norway.create(new_reference(), "NOK")).status_code == 201
    await client.patch(f"/units/{NO_MSN}", json={"bank_account_verified": False})
    assert (await client.get("/faults")).json()["bank_account_verified"] is False
    assert error_code(await norway.create(new_reference(), "NOK")) == "5060"
    assert (await client.patch("/units/111111", json={})).status_code == 404


# --- configuration and the command ----------------------------------------------------------


def test_with_test_units_leaves_out_what_is_taken() -> None:
    assert [u.msn for u in SandboxConfig().with_test_units().units] == [NO_MSN, DK_MSN]
    taken = SandboxConfig(msn=DK_MSN).with_test_units()
    assert [u.msn for u in taken.units] == [DK_MSN] and taken.partners == (TEST_PARTNER,)
    assert SandboxConfig(client_id=TEST_PARTNER.client_id).with_test_units().partners == ()
    unchanged = SandboxConfig(long_living_approved=False).with_test_units()
    assert unchanged.faults.long_living_approved is False


@pytest.mark.parametrize(
    "extra",
    [
        SalesUnitConfig(DEFAULT_MSN, "other", "s", "k"),  # the MSN is taken
        SalesUnitConfig("222222", DEFAULT_CLIENT_ID, "s", "k"),  # the client id is taken
        SalesUnitConfig("222222", "other", "s", DEFAULT_SUBSCRIPTION_KEY),
    ],
)
def test_units_need_their_own_msn_and_keys(extra: SalesUnitConfig) -> None:
    with pytest.raises(ValueError, match="own"):
        SandboxConfig(extra_units=(extra,))


def test_a_partner_links_known_units_only() -> None:
    with pytest.raises(ValueError, match="unknown msn"):
        SandboxConfig(partners=(PartnerKeys("p", "s", "k", frozenset({"222222"})),))
    with pytest.raises(ValueError, match="market"):
        SalesUnitConfig("222222", "c", "s", "k", market="SE")


def test_the_command_adds_units_and_prints_their_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import typer
    import uvicorn

    runs: list[Sandbox] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: runs.append(sandbox_of_app(app)))
    command = typer.Typer()
    command.command()(sandbox_cli.sandbox_command)
    custom = "msn=222222,market=no,client_id=shop2,client_secret=real-secret-2,subscription_key=k2"
    result = CliRunner().invoke(
        command,
        ["--state", "", "--extra-unit", "DK", "--extra-unit", custom, "--partner"],
        env={},
    )
    assert result.exit_code == 0, result.output
    for text in (
        "sandbox-client-dk",
        "sandbox-secret-dk",
        "sandbox-subscription-key-dk",
        "MSN 654321  (market DK, DKK)",
        "Sandbox Merchant DK",
        "sandbox-partner",
        "sandbox-partner-secret",
        "sandbox-partner-subscription-key",
        "act for MSN 123456, 654321, 222222",
        "shop2",
    ):
        assert text in result.output, text
    assert "real-secret-2" not in result.output
    assert list(runs[0].units) == [NO_MSN, DK_MSN, "222222"]
    assert runs[0].units["222222"].currency == "NOK"
    bad = CliRunner().invoke(command, ["--state", "", "--extra-unit", "SE"], env={})
    assert bad.exit_code != 0
    clash = CliRunner().invoke(command, ["--state", "", "--extra-unit", "msn=123456"], env={})
    assert clash.exit_code != 0


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://sandbox.test",
        event_hooks={"response": [check_contract]},
    )
