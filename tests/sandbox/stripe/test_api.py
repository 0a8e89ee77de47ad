"""The API through the official SDK over real HTTP: sessions, line items, expansion, lists
and paging, errors, idempotency, minimum amounts and the endive trap."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import stripe

from tests.sandbox.stripe.helpers import KEY, OTHER_KEY, Emulator, session_params


def headers(obj: Any) -> Any:
    """The HTTP headers of the answer an SDK object came from."""
    assert obj.last_response is not None
    return obj.last_response.headers


MESSAGE = (
    "Keys for idempotent requests can only be used with the same parameters they were first "
    "used with. Try using a key other than 'inv-1001-a' if you meant to execute a different "
    "request."
)


async def test_create_and_retrieve_with_line_items(client: stripe.StripeClient) -> None:
    params = session_params(amount=12500, locale="nb", customer_email="kunde@example.no")
    params["line_items"].append(
        {
            "price_data": {
                "currency": "nok",
                "unit_amount": 2500,
                "product_data": {"name": "Reminder fee"},
            },
            "quantity": 2,
        }
    )
    created = await client.v1.checkout.sessions.create_async(params=params)
    assert isinstance(created, stripe.checkout.Session)
    assert created.id.startswith("cs_test_")
    assert (created.status, created.payment_status, created.mode) == ("open", "unpaid", "payment")
    assert created.amount_total == 12500 + 2 * 2500
    assert created.currency == "nok"
    assert created.payment_intent is None
    assert created.metadata is not None and created.metadata.to_dict() == {"invoice_id": "1001"}
    assert created.client_reference_id == "inv-1001"
    assert created.url is not None and "/stripe/pay/" in created.url
    assert headers(created)["Request-Id"].startswith("req_")
    assert headers(created)["Stripe-Version"] == stripe.api_version

    got = client.v1.checkout.sessions.retrieve(created.id, params={"expand": ["line_items"]})
    assert got.line_items is not None
    items = got.line_items.data
    assert [(i.description, i.quantity, i.amount_total) for i in items] == [
        ("Invoice 1001", 1, 12500),
        ("Reminder fee", 2, 5000),
    ]
    assert isinstance(items[0], stripe.LineItem)
    listed = client.v1.checkout.sessions.line_items.list(created.id, params={"limit": 1})
    assert listed.has_more and listed.url == f"/v1/checkout/sessions/{created.id}/line_items"
    assert [i.description for i in listed.auto_paging_iter()] == ["Invoice 1001", "Reminder fee"]


async def test_list_and_auto_paging(client: stripe.StripeClient) -> None:
    ids = [client.v1.checkout.sessions.create(params=session_params()).id for _ in range(5)]
    first = client.v1.checkout.sessions.list(params={"limit": 2})
    assert first.url == "/v1/checkout/sessions" and first.has_more
    assert [s.id for s in first.data] == ids[::-1][:2]  # newest first
    assert [s.id for s in first.auto_paging_iter()] == ids[::-1]
    found = [s.id async for s in first.auto_paging_iter()]
    assert found == ids[::-1]
    before = client.v1.checkout.sessions.list(params={"ending_before": ids[1], "limit": 2})
    assert [s.id for s in before.data] == [ids[3], ids[2]] and before.has_more
    other = client.v1.checkout.sessions.list(options={"api_key": OTHER_KEY})
    assert other.data == []  # accounts are apart


def test_authentication_errors(emulator: Emulator) -> None:
    with pytest.raises(stripe.AuthenticationError) as wrong:
        emulator.client("sk_test_not_a_known_key").v1.checkout.sessions.list()
    assert wrong.value.http_status == 401
    assert "Invalid API Key provided: sk_test_****_key" in str(wrong.value)
    missing = httpx.get(f"{emulator.base}/v1/checkout/sessions")
    assert missing.status_code == 401
    assert missing.json()["error"]["message"].startswith("You did not provide an API key.")
    assert missing.headers["request-id"].startswith("req_")
    basic = httpx.get(f"{emulator.base}/v1/checkout/sessions", auth=(KEY, ""))
    assert basic.status_code == 200 and basic.json()["object"] == "list"


@pytest.mark.parametrize(
    ("change", "param", "code"),
    [
        ({"mode": None}, "mode", "parameter_missing"),
        ({"line_items": None}, "line_items", "parameter_missing"),
        ({"payment_method_types": ["card"]}, "payment_method_types", "parameter_unknown"),
        ({"colour": "red"}, "colour", "parameter_unknown"),
        ({"locale": "xx"}, "locale", "parameter_invalid"),
    ],
)
async def test_invalid_parameters(
    client: stripe.StripeClient, change: dict[str, Any], param: str, code: str
) -> None:
    params = {k: v for k, v in {**session_params(), **change}.items() if v is not None}
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]
    assert (error.value.http_status, error.value.param, error.value.code) == (400, param, code)


async def test_payment_method_types_before_endive(client: stripe.StripeClient) -> None:
    params = session_params(payment_method_types=["card"])
    old = client.v1.checkout.sessions.create(
        params=params,
        options={"stripe_version": "2026-06-24.dahlia"},
    )
    assert old.payment_method_types == ["card"]
    assert headers(old)["Stripe-Version"] == "2026-06-24.dahlia"


@pytest.mark.parametrize(
    ("currency", "minimum"), [("nok", 300), ("dkk", 250), ("sek", 300), ("eur", 50)]
)
async def test_minimum_amounts(client: stripe.StripeClient, currency: str, minimum: int) -> None:
    ok = client.v1.checkout.sessions.create(params=session_params(minimum, currency))
    assert ok.amount_total == minimum
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.checkout.sessions.create(params=session_params(minimum - 1, currency))
    assert error.value.code == "amount_too_small"


async def test_expires_at_bounds(client: stripe.StripeClient) -> None:
    now = int(time.time())
    in_an_hour = client.v1.checkout.sessions.create(params=session_params(expires_at=now + 3600))
    assert in_an_hour.expires_at == now + 3600
    default = client.v1.checkout.sessions.create(params=session_params())
    assert abs(default.expires_at - (default.created + 24 * 3600)) <= 1
    for wrong in (now + 29 * 60, now + 25 * 3600):
        with pytest.raises(stripe.InvalidRequestError) as error:
            client.v1.checkout.sessions.create(params=session_params(expires_at=wrong))
        assert error.value.param == "expires_at"


def test_not_found_and_unknown_url(client: stripe.StripeClient, emulator: Emulator) -> None:
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.payment_intents.retrieve("pi_missing")
    assert (error.value.http_status, error.value.code) == (404, "resource_missing")
    assert "No such payment_intent: 'pi_missing'" in str(error.value)
    unknown = httpx.get(f"{emulator.base}/v1/customers", auth=(KEY, ""))
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "Unrecognized request URL (GET: /v1/customers)."


async def test_idempotent_replay_and_mismatch(client: stripe.StripeClient) -> None:
    options: Any = {"idempotency_key": "inv-1001-a"}
    first = client.v1.checkout.sessions.create(params=session_params(), options=options)
    again = client.v1.checkout.sessions.create(params=session_params(), options=options)
    assert again.id == first.id
    assert headers(again)["Idempotent-Replayed"] == "true"
    assert headers(again)["Original-Request"] == headers(first)["Request-Id"]
    assert len(client.v1.checkout.sessions.list().data) == 1
    with pytest.raises(stripe.IdempotencyError) as changed:
        client.v1.checkout.sessions.create(params=session_params(amount=50000), options=options)
    assert changed.value.http_status == 400
    assert changed.value.error is not None and changed.value.error.message == MESSAGE
    with pytest.raises(stripe.IdempotencyError):
        client.v1.checkout.sessions.expire(first.id, options=options)  # another endpoint


async def test_validation_failures_are_not_kept(client: stripe.StripeClient) -> None:
    options: Any = {"idempotency_key": "inv-1001-b"}
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.create(params=session_params(amount=1), options=options)
    # the key was not used up: a corrected request with it goes through
    fixed = client.v1.checkout.sessions.create(params=session_params(amount=500), options=options)
    assert fixed.amount_total == 500


async def test_rate_limit_switch(client: stripe.StripeClient, emulator: Emulator) -> None:
    emulator.control("PATCH", "/faults", json={"rate_limit_rate": 1.0})
    with pytest.raises(stripe.RateLimitError) as error:
        client.v1.checkout.sessions.list()
    assert error.value.http_status == 429
    assert error.value.error is not None and error.value.error.code == "rate_limit"
    emulator.control("PATCH", "/faults", json={"rate_limit_rate": 0.0})
    assert client.v1.checkout.sessions.list().data == []


async def test_server_errors_come_before_anything_happens(
    client: stripe.StripeClient, emulator: Emulator
) -> None:
    emulator.control("PATCH", "/faults", json={"error_rate": 1.0})
    with pytest.raises(stripe.APIError) as error:
        client.v1.checkout.sessions.create(params=session_params())  # retried twice, in vain
    assert error.value.http_status in (500, 502, 503)
    emulator.control("PATCH", "/faults", json={"error_rate": 0.0})
    assert client.v1.checkout.sessions.list().data == []
