"""VippsClient against a scripted Vipps on httpx.MockTransport (docs/vipps.md)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from payrequest.providers.base import (
    OutcomeUnknown,
    PaymentNotFound,
    ProviderError,
    TryAgainLater,
)
from payrequest.providers.vipps.client import TOKEN_REFRESH_MARGIN, RetryPolicy
from payrequest.providers.vipps.mapping import SUBSCRIPTION_KEY_REFUSED
from tests.unit.vipps_fakes import (
    CREDENTIALS,
    SYSTEM_NAME,
    SYSTEM_VERSION,
    TOKEN_PATH,
    Answer,
    FakeVipps,
    Harnesses,
    connect_error,
    problem,
    read_timeout,
)

PAYMENTS = "/epayment/v1/payments"
ONE = f"{PAYMENTS}/acme-order-0001"
KEY = "7c8b81e7-b08b-46e4-9729-191cb801c132"
RETRYABLE = [500, 502, 503, 504, 408, 423, 429]
SYSTEM_HEADERS = {
    "Vipps-System-Name": SYSTEM_NAME,
    "Vipps-System-Version": SYSTEM_VERSION,
    "Vipps-System-Plugin-Name": SYSTEM_NAME,
    "Vipps-System-Plugin-Version": SYSTEM_VERSION,
}


def ok(payload: object | None = None) -> httpx.Response:
    return httpx.Response(200, json=payload if payload is not None else {"ok": True})


@pytest.fixture
async def harnesses() -> AsyncIterator[Harnesses]:
    made = Harnesses()
    yield made
    await made.aclose()


# --- the access token ------------------------------------------------------------------------


async def test_token_request_carries_credentials_and_system_headers(
    harnesses: Harnesses,
) -> None:
    h = harnesses()
    assert await h.client.access_token() == "token-1"
    (request,) = h.fake.requests
    assert request.method == "POST"
    assert request.url.path == TOKEN_PATH
    assert request.url.host == "apitest.vipps.no"
    assert request.content == b""
    assert request.headers.get("content-length", "0") == "0"
    assert request.headers["client_id"] == CREDENTIALS.client_id
    assert request.headers["client_secret"] == CREDENTIALS.client_secret
    assert request.headers["Ocp-Apim-Subscription-Key"] == CREDENTIALS.subscription_key
    assert request.headers["Merchant-Serial-Number"] == CREDENTIALS.merchant_serial_number
    for name, value in SYSTEM_HEADERS.items():
        assert request.headers[name] == value
    assert "authorization" not in request.headers


async def test_token_is_fetched_once_and_reused(harnesses: Harnesses) -> None:
    h = harnesses()
    h.fake.on("GET", ONE, ok(), ok(), ok())
    for _ in range(3):
        await h.client.call("GET", ONE)
        h.clock.advance(600)
    assert len(h.fake.token_requests()) == 1
    assert [r.headers["Authorization"] for r in h.fake.api_requests()] == ["Bearer token-1"] * 3


@pytest.mark.parametrize("lifetime", ["3600", 3600, "3600.0"])
async def test_token_is_refreshed_after_its_lifetime_minus_the_margin(
    harnesses: Harnesses, lifetime: str | int
) -> None:
    """`expires_in` arrives as a string (docs/vipps.md#access-token); it must be read as seconds."""
    h = harnesses(FakeVipps(token_lifetime=lifetime))
    assert await h.client.access_token() == "token-1"
    usable = 3600 - TOKEN_REFRESH_MARGIN
    h.clock.advance(usable - 1)
    assert await h.client.access_token() == "token-1"
    h.clock.advance(2)
    assert await h.client.access_token() == "token-2"
    assert await h.client.access_token() == "token-2"
    assert len(h.fake.token_requests()) == 2


async def test_production_lifetime_string_is_honoured(harnesses: Harnesses) -> None:
    h = harnesses(FakeVipps(token_lifetime="86398"))
    await h.client.access_token()
    h.clock.advance(86398 - TOKEN_REFRESH_MARGIN - 5)
    assert await h.client.access_token() == "token-1"
    h.clock.advance(10)
    assert await h.client.access_token() == "token-2"


async def test_a_short_lived_token_is_still_reused_for_a_while(harnesses: Harnesses) -> None:
    """Lifetime below the margin: the client must not fetch a token per request."""
    h = harnesses(FakeVipps(token_lifetime="60"))
    await h.client.access_token()
    h.clock.advance(20)
    assert await h.client.access_token() == "token-1"
    h.clock.advance(60)
    assert await h.client.access_token() == "token-2"


async def test_concurrent_first_calls_fetch_one_token(harnesses: Harnesses) -> None:
    h = harnesses()
    h.fake.on("GET", ONE, *[ok() for _ in range(8)])
    responses = await asyncio.gather(*(h.client.call("GET", ONE) for _ in range(8)))
    assert [r.status_code for r in responses] == [200] * 8
    assert len(h.fake.token_requests()) == 1
    assert {r.headers["Authorization"] for r in h.fake.api_requests()} == {"Bearer token-1"}


async def test_a_failing_token_call_is_a_provider_error_and_no_api_call_is_made(
    harnesses: Harnesses,
) -> None:
    apim = httpx.Response(
        401,
        json={"statusCode": 401, "message": "Access denied due to invalid subscription key."},
    )
    h = harnesses(FakeVipps(token_answers=[apim]))
    h.fake.on("GET", ONE, ok())
    with pytest.raises(ProviderError) as caught:
        await h.client.call("GET", ONE)
    assert caught.value.status == 401
    assert caught.value.message == SUBSCRIPTION_KEY_REFUSED
    assert caught.value.detail == "Access denied due to invalid subscription key."
    assert not caught.value.retryable
    assert h.fake.api_requests() == []


async def test_a_token_call_is_retried_on_5xx(harnesses: Harnesses) -> None:
    h = harnesses(FakeVipps(token_answers=[httpx.Response(503), read_timeout]))
    h.fake.on("GET", ONE, ok())
    response = await h.client.call("GET", ONE)
    assert response.status_code == 200
    assert len(h.fake.token_requests()) == 3
    assert h.fake.api_requests()[0].headers["Authorization"] == "Bearer token-1"


# --- headers on API calls --------------------------------------------------------------------


async def test_api_call_carries_bearer_token_keys_and_idempotency_key(
    harnesses: Harnesses,
) -> None:
    h = harnesses()
    h.fake.on("POST", f"{ONE}/capture", ok())
    body = {"modificationAmount": {"currency": "NOK", "value": 49900}}
    response = await h.client.call("POST", f"{ONE}/capture", json=body, idempotency_key=KEY)
    assert response.status_code == 200
    (request,) = h.fake.api_requests()
    raw = request.headers.raw
    assert (b"Authorization", b"Bearer token-1") in raw  # exactly "Bearer", not "bearer"
    assert request.headers["Ocp-Apim-Subscription-Key"] == CREDENTIALS.subscription_key
    assert request.headers["Merchant-Serial-Number"] == CREDENTIALS.merchant_serial_number
    for name, value in SYSTEM_HEADERS.items():
        assert request.headers[name] == value
    assert request.headers["Idempotency-Key"] == KEY
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == body
    assert "client_secret" not in request.headers


async def test_a_get_has_no_idempotency_key(harnesses: Harnesses) -> None:
    h = harnesses()
    h.fake.on("GET", ONE, ok())
    await h.client.call("GET", ONE)
    assert "idempotency-key" not in h.fake.api_requests()[0].headers


async def test_the_response_is_returned_as_is(harnesses: Harnesses) -> None:
    h = harnesses()
    h.fake.on("GET", ONE, ok({"reference": "acme-order-0001", "state": "CREATED"}))
    response = await h.client.call("GET", ONE)
    assert response.json() == {"reference": "acme-order-0001", "state": "CREATED"}


# --- retries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", RETRYABLE)
async def test_retryable_statuses_are_retried_with_the_same_key(
    harnesses: Harnesses, status: int
) -> None:
    h = harnesses()
    h.fake.on("POST", PAYMENTS, httpx.Response(status), httpx.Response(status), httpx.Response(201))
    response = await h.client.call("POST", PAYMENTS, json={"a": 1}, idempotency_key=KEY)
    assert response.status_code == 201
    attempts = h.fake.api_requests()
    assert len(attempts) == 3
    assert [r.headers["Idempotency-Key"] for r in attempts] == [KEY] * 3
    assert len({r.content for r in attempts}) == 1
    assert len(h.sleeps.delays) == 2
    assert len(h.fake.token_requests()) == 1  # a retry is not a reason for a new token


@pytest.mark.parametrize("failure", [read_timeout, connect_error], ids=["timeout", "connect"])
async def test_transport_errors_are_retried_with_the_same_key(
    harnesses: Harnesses, failure: Answer
) -> None:
    h = harnesses()
    h.fake.on("POST", PAYMENTS, failure, failure, failure, httpx.Response(201))
    response = await h.client.call("POST", PAYMENTS, json={"a": 1}, idempotency_key=KEY)
    assert response.status_code == 201
    attempts = h.fake.api_requests()
    assert [r.headers["Idempotency-Key"] for r in attempts] == [KEY] * 4
    assert len(h.sleeps.delays) == 3


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_honoured(harnesses: Harnesses, status: int) -> None:
    h = harnesses(retry=RetryPolicy(attempts=3, base_delay=0.5, max_delay=8.0, max_wait=3.0))
    h.fake.on(
        "GET",
        ONE,
        httpx.Response(status, headers={"Retry-After": "3"}),
        httpx.Response(status, headers={"Retry-After": "1.5"}),
        ok(),
    )
    assert (await h.client.call("GET", ONE)).status_code == 200
    assert h.sleeps.delays == [3.0, 1.5]


async def test_a_long_retry_after_is_handed_to_the_caller_not_slept(harnesses: Harnesses) -> None:
    """The 5-a-minute limit per reference answers Retry-After ≈ 58 s: the call ends at once
    with the wait, instead of sleeping (or retrying early, in vain) inside the request."""
    h = harnesses(retry=RetryPolicy(attempts=4, base_delay=0.5, max_delay=8.0, max_wait=2.0))
    limited = httpx.Response(
        429,
        json={"statusCode": 429, "message": "Rate limit is exceeded. Try again in 58 seconds."},
        headers={"Retry-After": "58"},
    )
    h.fake.on("POST", f"{ONE}/capture", limited, ok())
    with pytest.raises(TryAgainLater) as caught:
        await h.client.call("POST", f"{ONE}/capture", json={}, idempotency_key=KEY)
    assert caught.value.retry_after == timedelta(seconds=58)
    assert caught.value.retryable and caught.value.status == 429
    assert h.sleeps.delays == []
    assert len(h.fake.api_requests()) == 1
    assert h.fake.leftovers() == {("POST", f"{ONE}/capture"): 1}


async def test_a_short_retry_after_on_the_last_attempt_still_names_the_wait(
    harnesses: Harnesses,
) -> None:
    h = harnesses(retry=RetryPolicy(attempts=2, base_delay=0.5, max_delay=8.0, max_wait=2.0))
    busy = httpx.Response(429, headers={"Retry-After": "1"})
    h.fake.on("GET", ONE, busy, busy)
    with pytest.raises(TryAgainLater) as caught:
        await h.client.call("GET", ONE)
    assert caught.value.retry_after == timedelta(seconds=1)
    assert h.sleeps.delays == [1.0]


async def test_a_retry_after_date_is_read_as_the_time_until_then(harnesses: Harnesses) -> None:
    h = harnesses(retry=RetryPolicy(attempts=2, base_delay=0.5, max_delay=8.0))
    when = format_datetime(datetime.now(UTC) + timedelta(minutes=5), usegmt=True)
    h.fake.on("GET", ONE, httpx.Response(503, headers={"Retry-After": when}), ok())
    with pytest.raises(TryAgainLater) as caught:
        await h.client.call("GET", ONE)
    assert timedelta(minutes=4) < caught.value.retry_after <= timedelta(minutes=5)
    assert h.sleeps.delays == []


@pytest.mark.parametrize("value", ["soon", "Wed, 21 Oct 2015 07:28:00 GMT"])
async def test_an_unreadable_or_past_retry_after_retries_at_once_or_with_jitter(
    harnesses: Harnesses, value: str
) -> None:
    h = harnesses(retry=RetryPolicy(attempts=2, base_delay=0.5, max_delay=8.0))
    h.fake.on("GET", ONE, httpx.Response(429, headers={"Retry-After": value}), ok())
    assert (await h.client.call("GET", ONE)).status_code == 200
    (delay,) = h.sleeps.delays
    assert 0 <= delay <= 0.5


async def test_jitter_ceilings_double_and_are_capped(
    harnesses: Harnesses, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the random draw pinned to its upper end, the delays are exactly the ceilings."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    h = harnesses(retry=RetryPolicy(attempts=6, base_delay=0.5, max_delay=3.0))
    h.fake.on("GET", ONE, *[httpx.Response(502) for _ in range(5)], ok())
    await h.client.call("GET", ONE)
    assert h.sleeps.delays == [0.5, 1.0, 2.0, 3.0, 3.0]


async def test_jitter_floor_is_zero(harnesses: Harnesses, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: low)
    h = harnesses(retry=RetryPolicy(attempts=4, base_delay=0.5, max_delay=8.0))
    h.fake.on("GET", ONE, *[httpx.Response(500) for _ in range(3)], ok())
    await h.client.call("GET", ONE)
    assert h.sleeps.delays == [0.0, 0.0, 0.0]


async def test_real_jitter_stays_within_the_ceilings_and_varies(harnesses: Harnesses) -> None:
    policy = RetryPolicy(attempts=5, base_delay=0.5, max_delay=100.0)
    seen: list[list[float]] = []
    for _ in range(25):
        h = harnesses(retry=policy)
        h.fake.on("GET", ONE, *[httpx.Response(500) for _ in range(4)], ok())
        await h.client.call("GET", ONE)
        assert len(h.sleeps.delays) == 4
        for n, delay in enumerate(h.sleeps.delays):
            assert 0 <= delay <= 0.5 * 2**n
        seen.append(h.sleeps.delays)
    assert len({delays[3] for delays in seen}) > 20  # jittered, not a fixed schedule


@given(
    attempt=st.integers(min_value=0, max_value=40),
    base=st.floats(min_value=0.01, max_value=5),
    cap=st.floats(min_value=0.01, max_value=60),
)
def test_policy_delay_is_between_zero_and_the_capped_ceiling(
    attempt: int, base: float, cap: float
) -> None:
    policy = RetryPolicy(attempts=3, base_delay=base, max_delay=cap)
    assert 0 <= policy.delay(attempt, None) <= min(cap, base * 2**attempt)


@given(retry_after=st.floats(min_value=0, max_value=1000), cap=st.floats(0.1, 60))
def test_policy_delay_prefers_retry_after_capped(retry_after: float, cap: float) -> None:
    policy = RetryPolicy(attempts=3, base_delay=0.5, max_delay=cap)
    assert policy.delay(7, retry_after) == min(retry_after, cap)


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
async def test_other_4xx_are_never_retried(harnesses: Harnesses, status: int) -> None:
    h = harnesses()
    h.fake.on("POST", PAYMENTS, problem(status, "Refused", code="4150"), ok())
    response = await h.client.call("POST", PAYMENTS, json={"a": 1}, idempotency_key=KEY)
    assert response.status_code == status
    assert len(h.fake.api_requests()) == 1
    assert h.sleeps.delays == []


# --- after the last attempt ------------------------------------------------------------------


@pytest.mark.parametrize("status", RETRYABLE)
async def test_a_retryable_status_after_the_last_attempt_is_a_retryable_provider_error(
    harnesses: Harnesses, status: int
) -> None:
    trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    h = harnesses(retry=RetryPolicy(attempts=3, base_delay=0.5, max_delay=8.0))
    answers = [
        problem(status, "Capture failed", code="6280", detail="Try later", trace_id=trace)
        for _ in range(3)
    ]
    h.fake.on("POST", f"{ONE}/capture", *answers)
    with pytest.raises(ProviderError) as caught:
        await h.client.call("POST", f"{ONE}/capture", json={}, idempotency_key=KEY)
    error = caught.value
    assert not isinstance(error, OutcomeUnknown | PaymentNotFound)
    assert error.retryable is True
    assert error.status == status
    assert error.code == "6280"
    assert error.trace_id == trace
    assert "Capture failed" in error.message and "Try later" in error.message
    assert len(h.fake.api_requests()) == 3
    assert len(h.sleeps.delays) == 2


@pytest.mark.parametrize("failure", [read_timeout, connect_error], ids=["timeout", "connect"])
async def test_transport_failure_after_the_last_attempt_is_outcome_unknown(
    harnesses: Harnesses, failure: Answer
) -> None:
    h = harnesses(retry=RetryPolicy(attempts=3, base_delay=0.5, max_delay=8.0))
    h.fake.on("POST", PAYMENTS, failure, failure, failure)
    with pytest.raises(OutcomeUnknown) as caught:
        await h.client.call("POST", PAYMENTS, json={}, idempotency_key=KEY)
    assert caught.value.retryable is True
    assert len(h.fake.api_requests()) == 3
    assert [r.headers["Idempotency-Key"] for r in h.fake.api_requests()] == [KEY] * 3


async def test_a_single_attempt_policy_does_not_retry(harnesses: Harnesses) -> None:
    h = harnesses(retry=RetryPolicy(attempts=1))
    h.fake.on("GET", ONE, read_timeout)
    with pytest.raises(OutcomeUnknown):
        await h.client.call("GET", ONE)
    assert h.sleeps.delays == []


# --- 401 on an API call ----------------------------------------------------------------------


async def test_a_401_drops_the_token_fetches_a_new_one_and_retries_once(
    harnesses: Harnesses,
) -> None:
    h = harnesses()
    expired = httpx.Response(401, json={"statusCode": 401, "message": "Token expired"})
    h.fake.on("POST", f"{ONE}/cancel", expired, ok())
    response = await h.client.call("POST", f"{ONE}/cancel", json={}, idempotency_key=KEY)
    assert response.status_code == 200
    attempts = h.fake.api_requests()
    assert [r.headers["Authorization"] for r in attempts] == ["Bearer token-1", "Bearer token-2"]
    assert [r.headers["Idempotency-Key"] for r in attempts] == [KEY, KEY]
    assert len(h.fake.token_requests()) == 2
    # The new token is the cached one from now on.
    h.fake.on("GET", ONE, ok())
    await h.client.call("GET", ONE)
    assert h.fake.api_requests()[-1].headers["Authorization"] == "Bearer token-2"
    assert len(h.fake.token_requests()) == 2


async def test_a_second_401_is_returned_not_looped(harnesses: Harnesses) -> None:
    h = harnesses()
    denied = httpx.Response(401, json={"statusCode": 401, "message": "Access denied"})
    h.fake.on("GET", ONE, denied, denied, ok())
    response = await h.client.call("GET", ONE)
    assert response.status_code == 401
    assert len(h.fake.api_requests()) == 2
    assert len(h.fake.token_requests()) == 2
