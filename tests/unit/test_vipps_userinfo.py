"""Profile sharing through VippsProvider: the create body asks for the phone number, and reading
an approved payment fetches it from the Userinfo API (docs/vipps.md#profile-sharing-and-userinfo).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from payrequest.kit.money import Money
from payrequest.providers.base import CreatePayment, ProviderState, UserFlow
from payrequest.providers.vipps import wire
from payrequest.providers.vipps.client import RetryPolicy
from payrequest.providers.vipps.provider import VippsProvider, capabilities_for
from tests.contract.checker import checker
from tests.contract.vipps_wire import validate
from tests.unit.vipps_fakes import Harness, Harnesses, problem, read_timeout

REFERENCE = "acme-shop-123-order123abc"
PAYMENTS = "/epayment/v1/payments"
ONE = f"{PAYMENTS}/{REFERENCE}"
SUB = "c06c4afe-d9e1-4c5d-939a-177d752a0944"
USERINFO = f"/vipps-userinfo-api/userinfo/{SUB}"


def request(**overrides: Any) -> CreatePayment:
    fields: dict[str, Any] = {
        "reference": REFERENCE,
        "amount": Money(49900, "NOK"),
        "description": "Invoice 1001 from Acme",
        "user_flow": UserFlow.qr,
        "idempotency_key": f"create-{REFERENCE}",
    }
    fields.update(overrides)
    return CreatePayment(**fields)


def payment(state: str = "AUTHORIZED", *, sub: str | None = SUB, captured: int = 0) -> Any:
    data = {
        "aggregate": {
            "authorizedAmount": {"currency": "NOK", "value": 49900 if state == "AUTHORIZED" else 0},
            "cancelledAmount": {"currency": "NOK", "value": 0},
            "capturedAmount": {"currency": "NOK", "value": captured},
            "refundedAmount": {"currency": "NOK", "value": 0},
        },
        "amount": {"currency": "NOK", "value": 49900},
        "state": state,
        "paymentMethod": {"type": "WALLET"},
        "profile": {"sub": sub} if sub else {},
        "pspReference": "37c34d8c-2649-448e-864b-060d5d93e4c4",
        "reference": REFERENCE,
    }
    validate("payment", data)
    return httpx.Response(200, json=data)


def claims(phone: str | None = "4791234567") -> httpx.Response:
    data: dict[str, Any] = {"sub": SUB}
    if phone is not None:
        data.update(phone_number=phone, phone_number_verified=True)
    validate("userinfo", data)
    return httpx.Response(200, json=data)


@pytest.fixture
async def harnesses() -> AsyncIterator[Harnesses]:
    made = Harnesses()
    yield made
    await made.aclose()


@pytest.fixture
def h(harnesses: Harnesses) -> Harness:
    return harnesses(retry=RetryPolicy(attempts=3, base_delay=0.1, max_delay=1.0))


def provider(h: Harness) -> VippsProvider:
    return VippsProvider(
        h.client,
        webhook_url="https://pay.example.com/hooks/vipps",
        capabilities=capabilities_for("NO", long_living=False),
    )


# --- the create body ---------------------------------------------------------------------


@pytest.mark.parametrize("flow", [UserFlow.qr, UserFlow.redirect, UserFlow.push])
def test_sharing_asks_for_the_phone_number_scope(flow: UserFlow) -> None:
    body = wire.create_body(
        request(
            user_flow=flow,
            share_phone=True,
            phone_msisdn="4791234567" if flow is UserFlow.push else None,
            return_url="https://pay.example.com/r" if flow is UserFlow.redirect else None,
        )
    )
    assert body["profile"] == {"scope": "phoneNumber"}
    checker().check_request("POST", PAYMENTS, body)


def test_without_sharing_there_is_no_profile() -> None:
    assert "profile" not in wire.create_body(request())


async def test_the_create_call_carries_the_scope(h: Harness) -> None:
    h.fake.on(
        "POST", PAYMENTS, httpx.Response(201, json={"reference": REFERENCE, "redirectUrl": "x"})
    )
    await provider(h).create_payment(request(share_phone=True))
    (post,) = h.fake.api_requests("POST")
    assert json.loads(post.content)["profile"] == {"scope": "phoneNumber"}


# --- reading the shared number -----------------------------------------------------------


@pytest.mark.parametrize(
    ("msisdn", "e164"),
    [
        ("4791234567", "+4791234567"),
        ("4520123456", "+4520123456"),
        ("358401234567", "+358401234567"),
    ],
)
def test_the_shared_number_becomes_e164(msisdn: str, e164: str) -> None:
    assert wire.shared_phone({"sub": SUB, "phone_number": msisdn}) == e164


@pytest.mark.parametrize(
    "answer",
    [
        {"sub": SUB},
        {"sub": SUB, "phone_number": ""},
        {"sub": SUB, "phone_number": "+4791234567"},
        {"sub": SUB, "phone_number": "47 91 23 45 67"},
        {"sub": SUB, "phone_number": 4791234567},
        {"sub": SUB, "phone_number": "1234"},
        [],
        "4791234567",
    ],
)
def test_no_number_or_an_unreadable_one_is_none(answer: object) -> None:
    assert wire.shared_phone(answer) is None


async def test_an_approved_payment_with_a_sub_carries_the_payers_phone(h: Harness) -> None:
    h.fake.on("GET", ONE, payment())
    h.fake.on("GET", USERINFO, claims("4791834562"))
    snapshot = await provider(h).get_payment(REFERENCE)
    assert snapshot.state is ProviderState.authorized
    assert snapshot.payer_phone == "+4791834562"
    userinfo = h.fake.api_requests()[-1]
    assert userinfo.url.path == USERINFO
    assert userinfo.headers["Authorization"] == "Bearer token-1"  # the same token as ePayment
    assert userinfo.headers["Ocp-Apim-Subscription-Key"]
    assert "Idempotency-Key" not in userinfo.headers
    checker().check_request("GET", USERINFO, None)


async def test_a_payment_without_a_sub_asks_no_userinfo(h: Harness) -> None:
    h.fake.on("GET", ONE, payment("CREATED", sub=None), payment(sub=None))
    vipps = provider(h)
    assert (await vipps.get_payment(REFERENCE)).payer_phone is None
    assert (await vipps.get_payment(REFERENCE)).payer_phone is None
    assert [r.url.path for r in h.fake.api_requests()] == [ONE, ONE]  # fails on any other call


async def test_a_poll_loop_asks_userinfo_once(h: Harness) -> None:
    h.fake.on("GET", ONE, *[payment()] * 5)
    h.fake.on("GET", USERINFO, claims())
    vipps = provider(h)
    phones = [(await vipps.get_payment(REFERENCE)).payer_phone for _ in range(5)]
    assert phones == ["+4791234567"] * 5
    assert len([r for r in h.fake.api_requests() if r.url.path == USERINFO]) == 1


async def test_capture_returns_the_snapshot_with_the_phone(h: Harness) -> None:
    modified = payment(captured=49900).json()
    for key in ("paymentMethod", "profile"):
        del modified[key]
    h.fake.on("POST", f"{ONE}/capture", httpx.Response(200, json=modified))
    h.fake.on("GET", ONE, payment(captured=49900))
    h.fake.on("GET", USERINFO, claims())
    snapshot = await provider(h).capture(
        REFERENCE, Money(49900, "NOK"), idempotency_key=f"capture-{REFERENCE}"
    )
    assert (snapshot.captured, snapshot.payer_phone) == (49900, "+4791234567")


@pytest.mark.parametrize(
    "failure",
    [
        problem(500, "Internal Server Error"),
        problem(503, "Service Unavailable", headers={"Retry-After": "1"}),
        problem(403, "Forbidden"),
        read_timeout,
        httpx.Response(200, text="<html>gateway</html>"),
    ],
    ids=["500", "503", "403", "timeout", "not-json"],
)
async def test_a_userinfo_failure_never_breaks_the_read_and_is_tried_again(
    h: Harness, failure: Any, caplog: pytest.LogCaptureFixture
) -> None:
    h.fake.on("GET", ONE, payment(), payment())
    h.fake.on("GET", USERINFO, failure, claims())
    vipps = provider(h)
    with caplog.at_level(logging.WARNING, logger="payrequest.providers.vipps.userinfo"):
        first = await vipps.get_payment(REFERENCE)
    assert first.state is ProviderState.authorized and first.payer_phone is None
    assert REFERENCE in caplog.text
    assert h.sleeps.delays == []  # one try: a capture or poll does not wait for it
    assert (await vipps.get_payment(REFERENCE)).payer_phone == "+4791234567"
    assert h.fake.leftovers() == {}


async def test_nothing_shared_under_the_sub_is_remembered(h: Harness) -> None:
    h.fake.on("GET", ONE, payment(), payment())
    h.fake.on("GET", USERINFO, problem(404, "Not Found"))
    vipps = provider(h)
    assert (await vipps.get_payment(REFERENCE)).payer_phone is None
    assert (await vipps.get_payment(REFERENCE)).payer_phone is None
    assert len([r for r in h.fake.api_requests() if r.url.path == USERINFO]) == 1


async def test_claims_without_a_phone_number_give_none(h: Harness) -> None:
    h.fake.on("GET", ONE, payment())
    h.fake.on("GET", USERINFO, claims(None))
    assert (await provider(h).get_payment(REFERENCE)).payer_phone is None


async def test_the_cache_keeps_the_newest_answers_only(h: Harness) -> None:
    vipps = provider(h)
    vipps.shared_phones.kept = 2
    for n in range(3):
        h.fake.on("GET", f"/vipps-userinfo-api/userinfo/sub-{n}", claims(f"479123456{n}"))
        assert await vipps.shared_phones.phone(f"ref-{n}", f"sub-{n}") == f"+479123456{n}"
    assert await vipps.shared_phones.phone("ref-2", "sub-2") == "+4791234562"  # still known
    h.fake.on("GET", "/vipps-userinfo-api/userinfo/sub-0", claims("4791234560"))
    assert await vipps.shared_phones.phone("ref-0", "sub-0") == "+4791234560"  # asked again
    assert h.fake.leftovers() == {}
