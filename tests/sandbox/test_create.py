"""Create payment: success per user flow, and every documented validation error."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from payrequest.sandbox import SandboxConfig
from tests.sandbox.helpers import RECEIPT, Api, create_body, error_code, new_reference


def _in(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_push_message_create_returns_201_without_redirect(api: Api) -> None:
    reference = new_reference()
    response = await api.create(reference)
    assert response.status_code == 201
    assert response.json() == {"reference": reference}
    payment = (await api.get(reference)).json()
    assert payment["state"] == "CREATED"
    assert payment["aggregate"]["authorizedAmount"] == {"currency": "NOK", "value": 0}
    assert payment["profile"] == {}
    events = (await api.events(reference)).json()
    assert [e["name"] for e in events] == ["CREATED"]
    assert events[0]["pspReference"] == payment["pspReference"]


async def test_web_redirect_returns_landing_url(api: Api, client: httpx.AsyncClient) -> None:
    response = await api.create(
        userFlow="WEB_REDIRECT", customer=None, returnUrl="https://shop.example/done"
    )
    assert response.status_code == 201
    url = response.json()["redirectUrl"]
    assert url.startswith("http://sandbox.test/landing?token=")
    landing = await client.get(url)
    assert landing.status_code == 200 and "Sandbox Merchant" in landing.text


@pytest.mark.parametrize(
    ("fmt", "media"),
    [
        ("IMAGE/SVG+XML", "image/svg+xml"),
        ("IMAGE/PNG", "image/png"),
        ("TEXT/TARGETURL", "text/html"),
    ],
)
async def test_qr_flow_returns_qr_url(
    api: Api, client: httpx.AsyncClient, fmt: str, media: str
) -> None:
    response = await api.create(
        userFlow="QR",
        customer=None,
        qrFormat={"format": fmt, "size": 200},
        customerInteraction="CUSTOMER_PRESENT",
    )
    assert response.status_code == 201, response.text
    target = await client.get(response.json()["redirectUrl"])
    assert target.status_code == 200
    assert target.headers["content-type"].startswith(media)


async def test_long_living_payment_with_receipt(api: Api) -> None:
    response = await api.create(expiresAt=_in(timedelta(hours=23)), receipt=RECEIPT)
    assert response.status_code == 201, response.text


async def test_metadata_is_returned_by_get(api: Api) -> None:
    reference = new_reference()
    await api.create(reference, metadata={"invoice": "10023"})
    assert (await api.get(reference)).json()["metadata"] == {"invoice": "10023"}


async def test_duplicate_reference_is_409_4150(api: Api) -> None:
    reference = new_reference()
    assert (await api.create(reference)).status_code == 201
    again = await api.create(reference)  # new idempotency key
    assert again.status_code == 409
    assert error_code(again) == "4150"


CODE_CASES: list[tuple[str, dict[str, Any], int, str]] = [
    ("decimal amount", {"amount": {"currency": "NOK", "value": 499.5}}, 400, "4040"),
    ("amount over max", {"amount": {"currency": "NOK", "value": 65_000_001}}, 400, "4040"),
    ("customer token", {"customer": {"customerToken": "abc"}}, 400, "4050"),
    ("bad personal qr", {"customer": {"personalQr": "xy"}}, 400, "4060"),
    ("bad phone", {"customer": {"phoneNumber": "+4791234567"}}, 400, "4070"),
    ("short phone", {"customer": {"phoneNumber": "912345"}}, 400, "4070"),
    ("bad scope", {"profile": {"scope": "name shoeSize"}}, 400, "4080"),
    ("http returnUrl", {"returnUrl": "http://shop.example/done"}, 400, "4090"),
    ("metadata capacity", {"metadata": {str(i): "v" for i in range(6)}}, 400, "4100"),
    ("metadata key length", {"metadata": {"k" * 101: "v"}}, 400, "4120"),
    ("metadata value length", {"metadata": {"k": "v" * 501}}, 400, "4130"),
    ("missing amount", {"amount": None}, 400, "4140"),
    ("missing userFlow", {"userFlow": None}, 400, "4140"),
    ("push without customer", {"customer": None}, 400, "4140"),
    ("web redirect without returnUrl", {"userFlow": "WEB_REDIRECT"}, 400, "4140"),
    ("card passthrough", {"paymentMethod": {"type": "CARD_PASSTHROUGH"}}, 400, "4160"),
    ("nin scope", {"profile": {"scope": "name nin"}}, 403, "5030"),
    ("foreign currency", {"amount": {"currency": "DKK", "value": 1000}}, 400, "5040"),
    ("NOK below minimum", {"amount": {"currency": "NOK", "value": 99}}, 400, "6010"),
    (
        "expiresAt too late for NO",
        {"expiresAt": _in(timedelta(hours=25)), "receipt": RECEIPT},
        400,
        "6110",
    ),
    (
        "expiresAt too soon",
        {"expiresAt": _in(timedelta(minutes=9)), "receipt": RECEIPT},
        400,
        "6120",
    ),
    ("expiresAt without receipt", {"expiresAt": _in(timedelta(hours=2))}, 400, "6130"),
]


@pytest.mark.parametrize(
    ("case", "overrides", "status", "code"), CODE_CASES, ids=[c[0] for c in CODE_CASES]
)
async def test_create_error_codes(
    api: Api, case: str, overrides: dict[str, Any], status: int, code: str
) -> None:
    response = await api.create(**overrides)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert error_code(response) == code, response.text
    body = response.json()
    assert body["instance"] == "/v1/payments"
    assert body["traceId"].startswith("00-")


async def test_duplicate_metadata_keys_are_4110(api: Api) -> None:
    body = json.dumps(create_body(new_reference())).replace(
        '"paymentDescription"', '"metadata": {"a": "1", "a": "2"}, "paymentDescription"'
    )
    response = await api.http.post(
        "/epayment/v1/payments",
        content=body,
        headers={**api.headers(uuid.uuid4().hex), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert error_code(response) == "4110"


VALIDATION_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("reference with underscore", {"reference": "bad_reference_1"}, "reference"),
    ("reference too short", {"reference": "short"}, "reference"),
    ("reference too long", {"reference": "a" * 65}, "reference"),
    ("description too short", {"paymentDescription": "ab"}, "paymentDescription"),
    ("description too long", {"paymentDescription": "x" * 101}, "paymentDescription"),
    ("unknown userFlow", {"userFlow": "CARRIER_PIGEON"}, "userFlow"),
    (
        "expiresAt with web redirect",
        {
            "userFlow": "WEB_REDIRECT",
            "returnUrl": "https://a.example",
            "expiresAt": _in(timedelta(hours=2)),
            "receipt": RECEIPT,
        },
        "expiresAt",
    ),
    ("card with push", {"paymentMethod": {"type": "CARD"}}, "userFlow"),
    (
        "two customer ids",
        {"customer": {"phoneNumber": "4791234567", "personalQr": "https://qr/4791234567"}},
        "customer",
    ),
    (
        "qr size",
        {"userFlow": "QR", "customer": None, "qrFormat": {"format": "IMAGE/PNG", "size": 50}},
        "qrFormat.size",
    ),
    ("unknown field", {"callbackPrefix": "https://x.example"}, "callbackPrefix"),
    (
        "receipt without lines",
        {"receipt": {"orderLines": [], "bottomLine": {"currency": "NOK"}}},
        "receipt.orderLines",
    ),
]


@pytest.mark.parametrize(
    ("case", "overrides", "field"), VALIDATION_CASES, ids=[c[0] for c in VALIDATION_CASES]
)
async def test_validation_errors_name_the_field(
    api: Api, case: str, overrides: dict[str, Any], field: str
) -> None:
    response = await api.create(**overrides)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["title"] == "Bad Request"
    assert error_code(response) is None
    assert body["extraDetails"][0]["name"] == field


async def test_reference_pattern_message_matches_vipps(api: Api) -> None:
    response = await api.create(reference="bad.reference")
    reason = response.json()["extraDetails"][0]["reason"]
    assert reason == "The field Reference must match the regular expression '^[a-zA-Z0-9-]{8,64}$'."


async def test_missing_idempotency_key_is_400(api: Api) -> None:
    response = await api.http.post(
        "/epayment/v1/payments", json=create_body(new_reference()), headers=api.headers()
    )
    assert response.status_code == 400
    assert response.json()["extraDetails"][0]["name"] == "Idempotency-Key"


@pytest.mark.parametrize(
    ("market", "currency", "minimum"), [("DK", "DKK", 1), ("FI", "EUR", 1), ("NO", "NOK", 100)]
)
async def test_market_currency_and_minimums(market: str, currency: str, minimum: int) -> None:
    from payrequest.sandbox import create_sandbox_app
    from tests.sandbox.helpers import check_contract, fetch_token

    app = create_sandbox_app(SandboxConfig(market=market))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://s", event_hooks={"response": [check_contract]}
    ) as http:
        api = Api(http, await fetch_token(http))
        ok = await api.create(amount={"currency": currency, "value": minimum})
        assert ok.status_code == 201, ok.text
        if minimum > 1:
            low = await api.create(amount={"currency": currency, "value": minimum - 1})
            assert error_code(low) == "6010"
        wrong = "NOK" if currency != "NOK" else "EUR"
        mismatch = await api.create(amount={"currency": wrong, "value": 1000})
        assert error_code(mismatch) == "5040"
        if market != "NO":  # 60-day window outside Norway
            far = await api.create(
                expiresAt=_in(timedelta(days=59)),
                receipt=RECEIPT,
                amount={"currency": currency, "value": 1000},
            )
            assert far.status_code == 201, far.text
            too_far = await api.create(
                expiresAt=_in(timedelta(days=61)),
                receipt=RECEIPT,
                amount={"currency": currency, "value": 1000},
            )
            assert error_code(too_far) == "6110"


SITUATIONS: list[tuple[str, dict[str, Any], str]] = [
    ("long_living_approved", {"expiresAt": _in(timedelta(hours=2)), "receipt": RECEIPT}, "5050"),
    ("push_message_approved", {}, "5080"),
    ("bank_account_verified", {}, "5060"),
]


@pytest.mark.parametrize(("setting", "overrides", "code"), SITUATIONS)
async def test_sales_unit_situations(setting: str, overrides: dict[str, Any], code: str) -> None:
    from payrequest.sandbox import create_sandbox_app
    from tests.sandbox.helpers import check_contract, fetch_token

    app = create_sandbox_app(SandboxConfig(**{setting: False}))  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://s",
        event_hooks={"response": [check_contract]},
    ) as http:
        api = Api(http, await fetch_token(http))
        response = await api.create(**overrides)
        assert response.status_code == 403
        assert error_code(response) == code


@pytest.mark.parametrize(("setting", "overrides", "code"), SITUATIONS)
async def test_sales_unit_situations_switch_at_runtime(
    api: Api, client: httpx.AsyncClient, setting: str, overrides: dict[str, Any], code: str
) -> None:
    """The switches of `/faults`: the same sales unit is refused, then approved again."""
    assert (await client.get("/faults")).json()[setting] is True  # the demo's sales unit
    assert (await api.create(**overrides)).status_code == 201
    assert (await client.patch("/faults", json={setting: False})).json()[setting] is False
    refused = await api.create(**overrides)
    assert refused.status_code == 403 and error_code(refused) == code
    await client.patch("/faults", json={setting: True})
    assert (await api.create(**overrides)).status_code == 201


async def test_bank_account_not_verified_refuses_every_flow(
    api: Api, client: httpx.AsyncClient
) -> None:
    await client.patch("/faults", json={"bank_account_verified": False})
    for overrides in (
        {},
        {"userFlow": "QR", "customer": None, "qrFormat": {"format": "TEXT/TARGETURL"}},
        {"userFlow": "WEB_REDIRECT", "customer": None, "returnUrl": "https://shop.example/r"},
    ):
        assert error_code(await api.create(**overrides)) == "5060"


@pytest.mark.parametrize(
    ("market", "scheme"), [("NO", "vipps"), ("DK", "mobilepay"), ("FI", "mobilepay")]
)
async def test_native_redirect_is_an_app_deep_link(market: str, scheme: str) -> None:
    from urllib.parse import parse_qs, urlsplit

    from payrequest.sandbox import create_sandbox_app
    from tests.sandbox.helpers import check_contract, fetch_token

    currency = {"NO": "NOK", "DK": "DKK", "FI": "EUR"}[market]
    app = create_sandbox_app(SandboxConfig(market=market))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://s",
        event_hooks={"response": [check_contract]},
    ) as http:
        api = Api(http, await fetch_token(http))
        reference = new_reference()
        created = await api.create(
            reference,
            userFlow="NATIVE_REDIRECT",
            customer=None,
            amount={"currency": currency, "value": 1000},
        )
        assert created.status_code == 201, created.text
        link = created.json()["redirectUrl"]
        parts = urlsplit(link)
        assert parts.scheme == scheme and not link.startswith("http")
        assert (await api.get(reference)).json()["redirectUrl"] == link
        (token,) = parse_qs(parts.query)["token"]
        assert (await api.approve(reference, {"token": token})).status_code == 200
        assert (await api.get(reference)).json()["state"] == "AUTHORIZED"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://127.0.0.1:8000/done", True),
        ("http://127.0.0.2/done", True),
        ("http://localhost/done", True),
        ("http://[::1]:8000/done", True),
        ("http://192.168.1.10/done", False),
        ("myapp://done", True),
        ("javascript:alert(1)", False),
    ],
)
async def test_return_url_schemes(api: Api, url: str, ok: bool) -> None:
    response = await api.create(userFlow="WEB_REDIRECT", customer=None, returnUrl=url)
    assert (response.status_code == 201) is ok, response.text
    if not ok:
        assert error_code(response) == "4090"


async def test_a_number_without_a_user_is_7010(api: Api) -> None:
    response = await api.create(
        new_reference(), customer={"phoneNumber": "4799999999"}, userFlow="PUSH_MESSAGE"
    )
    assert response.status_code == 400
    assert {"name": "ErrorCode", "reason": "7010"} in response.json()["extraDetails"]
