"""Profile sharing: `profile.scope` on create, the phone's consent screen, `profile.sub` on GET
payment once AUTHORIZED, and the Userinfo API that turns a `sub` into the consented claims."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from payrequest.sandbox import SandboxConfig, create_sandbox_app
from payrequest.sandbox.config import DEFAULT_SUBSCRIPTION_KEY
from tests.sandbox.helpers import Api, LiveServer, error_code, fetch_token, new_reference

PHONE = "4791234567"
OTHER_PHONE = "4798765432"


async def _asking(api: Api, scope: str = "phoneNumber", phone: str = PHONE) -> str:
    reference = new_reference()
    response = await api.create(
        reference, customer={"phoneNumber": phone}, profile={"scope": scope}
    )
    assert response.status_code == 201, response.text
    return reference


async def _userinfo(api: Api, sub: str, **headers: str) -> httpx.Response:
    return await api.http.get(
        f"/vipps-userinfo-api/userinfo/{sub}",
        headers={"Authorization": f"Bearer {api.token}", **headers},
    )


async def _tap(client: httpx.AsyncClient, reference: str, action: str, phone: str = PHONE) -> str:
    response = await client.post(f"/phone/{phone}/payments/{reference}/{action}")
    assert response.status_code == 200
    return response.text


def _sub(payment: dict[str, Any]) -> str:
    sub: str = payment["profile"]["sub"]
    uuid.UUID(sub)  # opaque: a UUID, not the phone number
    assert PHONE not in sub
    return sub


# --- create: scope validation ---------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "status", "code"),
    [
        ("phoneNumber", 201, None),
        ("name address email phoneNumber birthDate", 201, None),
        ("phoneNumber shoeSize", 400, "4080"),
        ("", 400, "4080"),
        ("phoneNumber nin", 403, "5030"),
        ("accountNumbers", 403, "5030"),
    ],
)
async def test_scope_values(api: Api, scope: str, status: int, code: str | None) -> None:
    response = await api.create(profile={"scope": scope})
    assert response.status_code == status, response.text
    if code is not None:
        assert error_code(response) == code


async def test_scope_must_be_a_string(api: Api) -> None:
    response = await api.create(profile={"scope": ["phoneNumber"]})
    assert response.status_code == 400
    assert response.json()["extraDetails"][0]["name"] == "profile.scope"


async def test_a_sales_unit_approved_for_nin_may_ask_for_it() -> None:
    app = create_sandbox_app(SandboxConfig(restricted_scopes_allowed=True))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as h:
        api = Api(h, await fetch_token(h))
        reference = await _asking(api, "nin accountNumbers phoneNumber")
        assert (await api.approve(reference)).status_code == 200
        sub = _sub((await api.get(reference)).json())
        info = await _userinfo(api, sub, **{"Ocp-Apim-Subscription-Key": DEFAULT_SUBSCRIPTION_KEY})
        assert set(info.json()) == {
            "sub",
            "nin",
            "accounts",
            "phone_number",
            "phone_number_verified",
        }


# --- the phone's consent screen -------------------------------------------------------


async def test_consent_screen_then_approve_gives_a_sub(api: Api, client: httpx.AsyncClient) -> None:
    reference = await _asking(api)
    live = (await client.get(f"/phone/{PHONE}/live")).text
    assert "<strong>Sandbox Merchant</strong> asks for: your phone number" in live
    assert "/approve" not in live  # no Approve before the user has chosen to share
    refused = await _tap(client, reference, "approve")  # e.g. a stale page
    assert "not shared the information" in refused
    assert (await api.get(reference)).json()["state"] == "CREATED"

    shared = await _tap(client, reference, "share")
    assert "Information shared" in shared and "asks for:" not in shared and "/approve" in shared
    before = (await api.get(reference)).json()
    assert before["state"] == "CREATED" and before["profile"] == {}

    assert "Payment approved" in await _tap(client, reference, "approve")
    after = (await api.get(reference)).json()
    assert after["state"] == "AUTHORIZED"
    sub = _sub(after)
    info = await _userinfo(api, sub, **api.headers())
    assert info.status_code == 200
    assert info.headers["content-type"].startswith("application/json")
    assert info.json() == {"sub": sub, "phone_number": PHONE, "phone_number_verified": True}


async def test_declining_consent_aborts_the_payment(api: Api, client: httpx.AsyncClient) -> None:
    reference = await _asking(api, "name phoneNumber")
    live = (await client.get(f"/phone/{PHONE}/live")).text
    assert "asks for: your name and your phone number" in live
    assert "you did not share the information" in await _tap(client, reference, "decline")
    payment = (await api.get(reference)).json()
    assert payment["state"] == "ABORTED" and payment["profile"] == {}
    assert [e["name"] for e in (await api.events(reference)).json()] == ["CREATED", "ABORTED"]


async def test_payment_without_scope_has_no_consent_screen(
    api: Api, client: httpx.AsyncClient
) -> None:
    reference = new_reference()
    await api.create(reference)
    assert "asks for:" not in (await client.get(f"/phone/{PHONE}/live")).text
    assert "Payment approved" in await _tap(client, reference, "approve")
    assert (await api.get(reference)).json()["profile"] == {}


# --- sub and force approve --------------------------------------------------------------


async def test_sub_is_stable_per_phone_number(api: Api) -> None:
    subs = []
    for phone in (PHONE, PHONE, OTHER_PHONE):
        reference = await _asking(api, phone=phone)
        assert (await api.approve(reference)).status_code == 200  # force approve shares
        subs.append(_sub((await api.get(reference)).json()))
    assert subs[0] == subs[1] != subs[2]


async def test_force_approve_needs_to_know_who_shares(api: Api) -> None:
    reference = new_reference()
    created = await api.create(
        reference,
        userFlow="WEB_REDIRECT",
        customer=None,
        returnUrl="https://shop.example/done",
        profile={"scope": "phoneNumber"},
    )
    assert created.status_code == 201
    unknown = await api.approve(reference)
    assert unknown.status_code == 400 and error_code(unknown) == "10010"
    approved = await api.approve(reference, {"customer": {"phoneNumber": OTHER_PHONE}})
    assert approved.status_code == 200
    sub = _sub((await api.get(reference)).json())
    assert (await _userinfo(api, sub, **api.headers())).json()["phone_number"] == OTHER_PHONE


def _token_of(created: httpx.Response) -> str:
    url: str = created.json()["redirectUrl"]
    (token,) = parse_qs(urlsplit(url).query)["token"]
    return token


@pytest.mark.parametrize(
    "flow",
    [
        {"userFlow": "WEB_REDIRECT", "returnUrl": "https://shop.example/done"},
        {"userFlow": "QR", "qrFormat": {"format": "TEXT/TARGETURL"}},
        {"userFlow": "NATIVE_REDIRECT"},
    ],
    ids=["WEB_REDIRECT", "QR", "NATIVE_REDIRECT"],
)
async def test_force_approve_with_the_token_shares_as_the_test_user(
    api: Api, flow: dict[str, Any]
) -> None:
    """The landing token names the payment, not a user: with nobody's number known, the
    market's test user (4791234567 in Norway) approves and shares."""
    reference = new_reference()
    created = await api.create(
        reference, customer=None, profile={"scope": "phoneNumber name"}, **flow
    )
    assert created.status_code == 201, created.text
    assert (await api.approve(reference, {"token": _token_of(created)})).status_code == 200
    payment = (await api.get(reference)).json()
    assert payment["state"] == "AUTHORIZED"
    info = (await _userinfo(api, _sub(payment), **api.headers())).json()
    assert info["phone_number"] == PHONE and "name" in info


async def test_force_approve_with_the_token_shares_the_number_given_on_the_landing_page(
    api: Api, client: httpx.AsyncClient
) -> None:
    reference = new_reference()
    created = await api.create(
        reference,
        customer=None,
        userFlow="QR",
        qrFormat={"format": "TEXT/TARGETURL"},
        profile={"scope": "phoneNumber"},
    )
    token = _token_of(created)
    typed = await client.post("/landing", data={"token": token, "phone": "+47 987 65 432"})
    assert typed.status_code == 303
    assert (await api.approve(reference, {"token": token})).status_code == 200
    sub = _sub((await api.get(reference)).json())
    assert (await _userinfo(api, sub, **api.headers())).json()["phone_number"] == OTHER_PHONE


async def test_force_approve_with_the_token_in_denmark_shares_the_danish_test_user() -> None:
    app = create_sandbox_app(SandboxConfig(market="DK"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as h:
        api = Api(h, await fetch_token(h))
        reference = new_reference()
        created = await api.create(
            reference,
            customer=None,
            amount={"currency": "DKK", "value": 1000},
            userFlow="WEB_REDIRECT",
            returnUrl="https://shop.example/done",
            profile={"scope": "phoneNumber"},
        )
        assert (await api.approve(reference, {"token": _token_of(created)})).status_code == 200
        sub = _sub((await api.get(reference)).json())
        info = await _userinfo(api, sub, **{"Ocp-Apim-Subscription-Key": DEFAULT_SUBSCRIPTION_KEY})
        assert info.json()["phone_number"] == "4512345678"


# --- the Userinfo API ---------------------------------------------------------------------


async def test_userinfo_returns_every_consented_scope(api: Api) -> None:
    first = await _asking(api, "email")
    second = await _asking(api, "phoneNumber name")
    for reference in (first, second):
        assert (await api.approve(reference)).status_code == 200
    sub = _sub((await api.get(second)).json())
    info = (await _userinfo(api, sub, **api.headers())).json()
    assert info["email"].endswith(".invalid") and info["email_verified"] is True
    assert info["phone_number"] == PHONE
    assert {"name", "given_name", "family_name"} <= set(info)
    assert "address" not in info and "birthdate" not in info


async def test_userinfo_checks_keys_token_and_sub(api: Api) -> None:
    reference = await _asking(api)
    await api.approve(reference)
    sub = _sub((await api.get(reference)).json())
    key = {"Ocp-Apim-Subscription-Key": DEFAULT_SUBSCRIPTION_KEY}

    unknown = await _userinfo(api, str(uuid.uuid4()), **key)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert unknown.json()["status"] == 404

    no_key = await api.http.get(
        f"/vipps-userinfo-api/userinfo/{sub}", headers={"Authorization": f"Bearer {api.token}"}
    )
    assert no_key.status_code == 401
    bad_token = await api.http.get(
        f"/vipps-userinfo-api/userinfo/{sub}", headers={**key, "Authorization": "Bearer x.y.z"}
    )
    assert bad_token.status_code == 401 and set(bad_token.json()) == {"statusCode", "message"}
    foreign = await _userinfo(api, sub, **key, **{"Merchant-Serial-Number": "999999"})
    assert foreign.status_code == 403
    assert (await _userinfo(api, sub, **key)).status_code == 200  # the MSN header is optional


# --- in a real browser ----------------------------------------------------------------------


async def test_consent_screen_in_a_browser(page: Any, live_server: LiveServer) -> None:
    from playwright.async_api import expect

    async with httpx.AsyncClient(base_url=live_server.base) as http:
        api = Api(http, await fetch_token(http))
        shares, declines = await _asking(api), await _asking(api)
        await page.goto(f"{live_server.base}/phone/{PHONE}")

        card = page.locator(f'.card.request[data-reference="{shares}"]')
        await expect(card).to_contain_text("Sandbox Merchant asks for: your phone number")
        await expect(card.get_by_role("button", name="Approve")).to_have_count(0)
        await card.get_by_role("button", name="Share & continue").click()
        await expect(page.get_by_role("status")).to_have_text("Information shared")
        await card.get_by_role("button", name="Approve").click()
        await expect(page.get_by_role("status")).to_have_text("Payment approved")
        assert (await api.get(shares)).json()["profile"]["sub"]

        other = page.locator(f'.card.request[data-reference="{declines}"]')
        await other.get_by_role("button", name="Decline").click()
        await expect(page.get_by_role("status")).to_have_text(
            re.compile("you did not share the information")
        )
        assert (await api.get(declines)).json()["state"] == "ABORTED"
