"""How the provider reads refusals (docs/vipps.md#errors): access-token errors in words staff
can act on, a cancel's 404 that is not "Reference not found", and Vipps' trace ids in the log."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from payrequest.kit.money import Money
from payrequest.providers.base import PaymentNotFound, ProviderError, ProviderState
from payrequest.providers.vipps.client import RetryPolicy
from payrequest.providers.vipps.mapping import (
    CANCEL_UNCONFIRMED,
    CREDENTIALS_REFUSED,
    TOKEN_REFUSALS,
)
from payrequest.providers.vipps.provider import VippsProvider, capabilities_for
from tests.unit.vipps_fakes import FakeVipps, Harness, Harnesses, problem

REFERENCE = "acme-shop-123-order123abc"
ONE = f"/epayment/v1/payments/{REFERENCE}"
CANCEL = f"{ONE}/cancel"
KEY = f"cancel-{REFERENCE}"
TRACE = "00-813b63975adcaaeef2b0ec7c103c40e3-706492e906541d31-01"
AAD_TRACE = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


@pytest.fixture
async def harnesses() -> AsyncIterator[Harnesses]:
    made = Harnesses()
    yield made
    await made.aclose()


def provider(h: Harness) -> VippsProvider:
    return VippsProvider(
        h.client,
        webhook_url="https://pay.example.com/webhooks/vipps",
        capabilities=capabilities_for("NO", long_living=False),
    )


def aad_error(code: int, error: str, description: str) -> httpx.Response:
    """The identity provider's answer to bad client credentials (docs/vipps.md#access-token)."""
    return httpx.Response(
        401,
        json={
            "error": error,
            "error_description": f"{description}\r\nTrace ID: {AAD_TRACE}\r\nTimestamp: x",
            "error_codes": [code],
            "timestamp": "2026-01-19 16:26:32Z",
            "trace_id": AAD_TRACE,
            "correlation_id": "5e4d3c2b-1a09-8f7e-6d5c-4b3a29180706",
            "error_uri": f"https://login.windows.net/error?code={code}",
        },
    )


def payment(state: str) -> httpx.Response:
    zero = {"currency": "NOK", "value": 0}
    aggregate = {
        f"{name}Amount": zero for name in ("authorized", "cancelled", "captured", "refunded")
    }
    if state == "TERMINATED":
        aggregate["cancelledAmount"] = {"currency": "NOK", "value": 49900}
    body: dict[str, Any] = {
        "aggregate": aggregate,
        "amount": {"currency": "NOK", "value": 49900},
        "state": state,
        "paymentMethod": {"type": "WALLET"},
        "profile": {},
        "pspReference": "37c34d8c-2649-448e-864b-060d5d93e4c4",
        "reference": REFERENCE,
    }
    return httpx.Response(200, json=body)


def cancelled() -> httpx.Response:
    data = payment("TERMINATED").json()
    del data["paymentMethod"], data["profile"]
    return httpx.Response(200, json=data)


NOT_FOUND = problem(404, "Reference not found", code="5090")
BARE_404 = httpx.Response(404, json={"statusCode": 404, "message": "Resource not found"})


# --- access token errors ---------------------------------------------------------------------


async def test_an_invalid_client_secret_is_named_and_its_reason_kept(harnesses: Harnesses) -> None:
    secret_refused = aad_error(
        7000215, "invalid_client", "AADSTS7000215: Invalid client secret provided."
    )
    h = harnesses(FakeVipps(token_answers=[secret_refused]))
    with pytest.raises(ProviderError) as caught:
        await provider(h).list_webhooks()
    error = caught.value
    assert error.message == TOKEN_REFUSALS[7000215]
    assert "client secret is invalid" in error.message
    assert error.detail == "invalid_client: AADSTS7000215: Invalid client secret provided."
    assert error.trace_id == AAD_TRACE
    assert (error.status, error.retryable) == (401, False)
    assert "Unauthorized" not in str(error) and "AADSTS7000215" in str(error)
    assert h.fake.api_requests() == []


@pytest.mark.parametrize(
    ("code", "error", "expected"),
    [
        (700016, "unauthorized_client", TOKEN_REFUSALS[700016]),
        (7000222, "invalid_client", TOKEN_REFUSALS[7000222]),
        (90002, "invalid_request", CREDENTIALS_REFUSED),  # a code without a sentence of ours
    ],
)
async def test_each_known_token_refusal_has_its_sentence(
    harnesses: Harnesses, code: int, error: str, expected: str
) -> None:
    h = harnesses(FakeVipps(token_answers=[aad_error(code, error, f"AADSTS{code}: Something.")]))
    with pytest.raises(ProviderError) as caught:
        await h.client.access_token()
    assert caught.value.message == expected
    assert caught.value.detail == f"{error}: AADSTS{code}: Something."


# --- cancel: only 5090 says the payment does not exist ---------------------------------------


async def test_cancel_of_a_reference_vipps_does_not_know_is_payment_not_found(
    harnesses: Harnesses,
) -> None:
    h = harnesses()
    h.fake.on("POST", CANCEL, NOT_FOUND)
    with pytest.raises(PaymentNotFound):
        await provider(h).cancel(REFERENCE, idempotency_key=KEY)
    assert len(h.fake.api_requests()) == 1


async def test_a_bare_404_on_cancel_is_settled_by_get_then_cancelled_again(
    harnesses: Harnesses,
) -> None:
    """A gateway 404 never reached the payment: GET finds it waiting, and the cancel is sent
    once more with the same key."""
    h = harnesses()
    h.fake.on("POST", CANCEL, BARE_404, cancelled())
    h.fake.on("GET", ONE, payment("CREATED"), payment("TERMINATED"))
    snapshot = await provider(h).cancel(REFERENCE, idempotency_key=KEY)
    assert snapshot.state is ProviderState.terminated
    posts = h.fake.api_requests("POST")
    assert [p.headers["Idempotency-Key"] for p in posts] == [KEY, KEY]
    assert h.fake.leftovers() == {}


async def test_a_bare_404_on_cancel_of_a_finished_payment_is_its_state(
    harnesses: Harnesses,
) -> None:
    h = harnesses()
    h.fake.on("POST", CANCEL, BARE_404)
    h.fake.on("GET", ONE, payment("EXPIRED"))
    snapshot = await provider(h).cancel(REFERENCE, idempotency_key=KEY)
    assert snapshot.state is ProviderState.expired
    assert len(h.fake.api_requests("POST")) == 1


async def test_a_bare_404_then_get_5090_is_payment_not_found(harnesses: Harnesses) -> None:
    h = harnesses()
    h.fake.on("POST", CANCEL, BARE_404)
    h.fake.on("GET", ONE, NOT_FOUND)
    with pytest.raises(PaymentNotFound):
        await provider(h).cancel(REFERENCE, idempotency_key=KEY)


@pytest.mark.parametrize(
    "get_answer",
    [
        BARE_404,
        httpx.Response(404, text="<html>Not Found</html>"),
        problem(503, "Service Unavailable"),
    ],
    ids=["bare-404", "html-404", "503"],
)
async def test_a_bare_404_and_no_definite_get_refuses_the_cancel(
    harnesses: Harnesses, get_answer: httpx.Response
) -> None:
    """Neither answer says where the payment stands: staff are asked to try again, and the
    caller must not cancel on its side (not PaymentNotFound)."""
    h = harnesses(retry=RetryPolicy(attempts=1))
    h.fake.on("POST", CANCEL, BARE_404)
    h.fake.on("GET", ONE, get_answer)
    with pytest.raises(ProviderError) as caught:
        await provider(h).cancel(REFERENCE, idempotency_key=KEY)
    error = caught.value
    assert not isinstance(error, PaymentNotFound)
    assert error.message == CANCEL_UNCONFIRMED
    assert error.retryable


async def test_a_second_bare_404_after_get_found_the_payment_refuses_the_cancel(
    harnesses: Harnesses,
) -> None:
    h = harnesses()
    h.fake.on("POST", CANCEL, BARE_404, BARE_404)
    h.fake.on("GET", ONE, payment("CREATED"))
    with pytest.raises(ProviderError) as caught:
        await provider(h).cancel(REFERENCE, idempotency_key=KEY)
    assert caught.value.message == CANCEL_UNCONFIRMED
    assert not isinstance(caught.value, PaymentNotFound)


# --- trace ids in the log --------------------------------------------------------------------


async def test_every_refusal_is_logged_with_vipps_trace_id_and_instance(
    harnesses: Harnesses, caplog: pytest.LogCaptureFixture
) -> None:
    h = harnesses()
    refusal = problem(400, "Cannot capture before reservation", code="6080", trace_id=TRACE)
    h.fake.on("POST", f"{ONE}/capture", refusal)
    caplog.set_level(logging.WARNING, logger="payrequest.providers.vipps")
    with pytest.raises(ProviderError):
        await provider(h).capture(
            REFERENCE, Money(100, "NOK"), idempotency_key=f"capture-{REFERENCE}"
        )
    [record] = [r for r in caplog.records if r.name == "payrequest.providers.vipps.client"]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert TRACE in message and "instance /v1/payments" in message
    assert f"POST {ONE}/capture" in message and "HTTP 400 ErrorCode 6080" in message
    assert record.__dict__["vipps_trace_id"] == TRACE
    assert record.__dict__["vipps_instance"] == "/v1/payments"
    assert record.__dict__["vipps_code"] == "6080"


async def test_a_token_refusal_is_logged_with_the_identity_providers_trace_id(
    harnesses: Harnesses, caplog: pytest.LogCaptureFixture
) -> None:
    refused = aad_error(7000215, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
    h = harnesses(FakeVipps(token_answers=[refused]))
    caplog.set_level(logging.WARNING, logger="payrequest.providers.vipps")
    with pytest.raises(ProviderError):
        await h.client.access_token()
    [record] = caplog.records
    assert AAD_TRACE in record.getMessage() and "AADSTS7000215" in record.getMessage()
    assert record.__dict__["vipps_trace_id"] == AAD_TRACE
