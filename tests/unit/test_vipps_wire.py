"""ePayment wire format (docs/vipps.md) and VippsProvider.create_payment."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payrequest.kit.money import Money
from payrequest.payment_requests.receipt import unit_price_including_tax
from payrequest.providers.base import (
    CreatedPayment,
    CreatePayment,
    EventName,
    OrderLine,
    OutcomeUnknown,
    PaymentNotFound,
    ProviderError,
    ProviderState,
    UserFlow,
    WebhookRejected,
)
from payrequest.providers.vipps import wire
from payrequest.providers.vipps.client import RetryPolicy
from payrequest.providers.vipps.mapping import (
    EVENT_FROM_WIRE,
    STAFF_MESSAGES,
    STATE_FROM_WIRE,
    USER_FLOW_TO_WIRE,
)
from payrequest.providers.vipps.provider import VippsProvider, capabilities_for
from payrequest.providers.vipps.signature import authorization, content_hash
from tests.contract.checker import checker
from tests.contract.official import require_official
from tests.contract.vipps_wire import validate
from tests.unit.vipps_fakes import FakeVipps, Harness, Harnesses, problem, read_timeout

REFERENCE = "acme-shop-123-order123abc"
PSP = "37c34d8c-2649-448e-864b-060d5d93e4c4"
PAYMENTS = "/epayment/v1/payments"
KEY = "create-acme-shop-123-order123abc-1"


# --- the schema ------------------------------------------------------------------------------


def assert_valid_create_body(body: dict[str, Any]) -> None:
    """The body keeps the contract (tests/contract; the official files too when present)."""
    checker().check_request("POST", PAYMENTS, body)
    assert_no_floats(body)


def assert_no_floats(node: object, where: str = "body") -> None:
    if isinstance(node, float):
        raise AssertionError(f"{where} is a float: {node!r}")
    if isinstance(node, dict):
        for key, value in node.items():
            assert_no_floats(value, f"{where}.{key}")
    if isinstance(node, list):
        for index, value in enumerate(node):
            assert_no_floats(value, f"{where}[{index}]")


def line(
    line_id: str = "INV-1001-1",
    *,
    quantity: str = "2",
    unit_price: int = 20000,
    rate_bp: int = 2500,
) -> OrderLine:
    """`quantity` units at `unit_price` excluding VAT, as an invoice states them."""
    net = round(Decimal(quantity) * unit_price)
    tax = net * rate_bp // 10_000
    return OrderLine(
        line_id=line_id,
        name=f"{line_id}: Consulting",
        quantity=quantity,
        unit_price_including_tax=round((net + tax) / Decimal(quantity)),
        total=net + tax,
        total_excluding_tax=net,
        tax_amount=tax,
        tax_rate_bp=rate_bp,
    )


def request(**overrides: Any) -> CreatePayment:
    fields: dict[str, Any] = {
        "reference": REFERENCE,
        "amount": Money(49900, "NOK"),
        "description": "Invoice 1001 from Acme",
        "user_flow": UserFlow.push,
        "idempotency_key": KEY,
        "phone_msisdn": "4791234567",
    }
    fields.update(overrides)
    return CreatePayment(**fields)


# --- parse_timestamp -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-03-27T10:51:44.5333258Z", datetime(2023, 3, 27, 10, 51, 44, 533325, UTC)),
        ("2023-03-27T10:51:44.533Z", datetime(2023, 3, 27, 10, 51, 44, 533000, UTC)),
        ("2023-03-27T10:51:44.5Z", datetime(2023, 3, 27, 10, 51, 44, 500000, UTC)),
        ("2023-03-27T10:51:44Z", datetime(2023, 3, 27, 10, 51, 44, tzinfo=UTC)),
        ("2023-03-27T10:51:44+00:00", datetime(2023, 3, 27, 10, 51, 44, tzinfo=UTC)),
        ("2023-03-27T10:51:44.5333258+00:00", datetime(2023, 3, 27, 10, 51, 44, 533325, UTC)),
        ("2023-03-27T10:51:44", datetime(2023, 3, 27, 10, 51, 44, tzinfo=UTC)),  # naive: UTC
        (" 2026-01-19T16:26:32.099Z ", datetime(2026, 1, 19, 16, 26, 32, 99000, UTC)),
        ("2023-03-27T12:51:44+02:00", datetime(2023, 3, 27, 10, 51, 44, tzinfo=UTC)),
        ("2023-03-27T12:51:44.533+02:00", datetime(2023, 3, 27, 10, 51, 44, 533000, UTC)),
        ("2023-03-27T08:51:44.5333258-02:00", datetime(2023, 3, 27, 10, 51, 44, 533325, UTC)),
    ],
)
def test_parse_timestamp(text: str, expected: datetime) -> None:
    parsed = wire.parse_timestamp(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@given(
    moment=st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
        max_value=datetime(2100, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    offset_minutes=st.integers(min_value=-12 * 60, max_value=14 * 60),
    digits=st.integers(min_value=0, max_value=7),
)
def test_parse_timestamp_round_trips_any_offset_and_precision(
    moment: datetime, offset_minutes: int, digits: int
) -> None:
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    fraction = f"{local.microsecond:06d}0"[:digits]
    text = local.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if digits else "")
    text += local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]
    expected = moment.replace(microsecond=int(fraction[:6].ljust(6, "0")) if digits else 0)
    assert wire.parse_timestamp(text) == expected


# --- parse_payment / parse_event -------------------------------------------------------------


def payment_json(state: str = "AUTHORIZED", **aggregate: int) -> dict[str, Any]:
    amounts = {"authorized": 0, "cancelled": 0, "captured": 0, "refunded": 0, **aggregate}
    return {
        "aggregate": {
            f"{name}Amount": {"currency": "NOK", "value": value} for name, value in amounts.items()
        },
        "amount": {"currency": "NOK", "value": 49900},
        "state": state,
        "paymentMethod": {"type": "WALLET"},
        "profile": {},
        "pspReference": PSP,
        "reference": REFERENCE,
    }


def event_json(name: str = "AUTHORIZED", **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "msn": "123456",
        "reference": REFERENCE,
        "pspReference": "dd8e0a8e-2b26-40ed-98f1-1d5832fc129f",
        "name": name,
        "amount": {"currency": "NOK", "value": 49900},
        "timestamp": "2026-01-19T16:26:32.099Z",
        "idempotencyKey": "7c8b81e7-b08b-46e4-9729-191cb801c132",
        "success": True,
    }
    data.update(overrides)
    return data


def test_mapping_tables_cover_every_wire_name() -> None:
    assert set(STATE_FROM_WIRE) == {"CREATED", "AUTHORIZED", "ABORTED", "EXPIRED", "TERMINATED"}
    assert set(STATE_FROM_WIRE.values()) == set(ProviderState)
    assert set(EVENT_FROM_WIRE) == {
        "CREATED",
        "AUTHORIZED",
        "ABORTED",
        "EXPIRED",
        "TERMINATED",
        "CANCELLED",
        "CAPTURED",
        "REFUNDED",
    }
    assert set(EVENT_FROM_WIRE.values()) == set(EventName)
    assert dict(USER_FLOW_TO_WIRE) == {
        UserFlow.push: "PUSH_MESSAGE",
        UserFlow.qr: "QR",
        UserFlow.redirect: "WEB_REDIRECT",
    }


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("CREATED", ProviderState.created),
        ("AUTHORIZED", ProviderState.authorized),
        ("ABORTED", ProviderState.aborted),
        ("EXPIRED", ProviderState.expired),
        ("TERMINATED", ProviderState.terminated),
    ],
)
def test_parse_payment_maps_states(state: str, expected: ProviderState) -> None:
    assert wire.parse_payment(payment_json(state)).state is expected


def test_parse_payment_reads_amounts_and_references() -> None:
    snapshot = wire.parse_payment(
        payment_json(authorized=49900, captured=20000, cancelled=0, refunded=5000)
    )
    assert snapshot.reference == REFERENCE
    assert snapshot.psp_reference == PSP
    assert snapshot.amount == Money(49900, "NOK")
    assert (snapshot.authorized, snapshot.captured, snapshot.cancelled, snapshot.refunded) == (
        49900,
        20000,
        0,
        5000,
    )


def test_parse_payment_of_the_official_example() -> None:
    """The documented example: authorized, then cancelled before capture."""
    snapshot = wire.parse_payment(payment_json(authorized=49900, cancelled=49900))
    assert snapshot.state is ProviderState.authorized
    assert snapshot.cancelled == 49900 and snapshot.captured == 0


@pytest.mark.parametrize("state", ["CAPTURED", "authorized", "", "REFUNDED", "CANCELLED"])
def test_parse_payment_refuses_unknown_states(state: str) -> None:
    with pytest.raises(ProviderError, match="state"):
        wire.parse_payment(payment_json(state))


@pytest.mark.parametrize("value", [49900.0, "49900", 499.5, None, True])
def test_parse_payment_refuses_non_integer_amounts(value: object) -> None:
    data = payment_json()
    data["amount"]["value"] = value
    with pytest.raises(ProviderError, match="integer"):
        wire.parse_payment(data)
    data = payment_json()
    data["aggregate"]["capturedAmount"]["value"] = value
    with pytest.raises(ProviderError, match="integer"):
        wire.parse_payment(data)


@pytest.mark.parametrize(("name", "expected"), list(EVENT_FROM_WIRE.items()))
def test_parse_event_maps_names(name: str, expected: EventName) -> None:
    assert wire.parse_event(event_json(name)).name is expected


def test_parse_event_reads_every_field() -> None:
    event = wire.parse_event(event_json("CAPTURED", amount={"currency": "DKK", "value": 125}))
    assert event.reference == REFERENCE
    assert event.psp_reference == "dd8e0a8e-2b26-40ed-98f1-1d5832fc129f"
    assert event.amount == Money(125, "DKK")
    assert event.occurred_at == datetime(2026, 1, 19, 16, 26, 32, 99000, UTC)
    assert event.success is True
    assert event.idempotency_key == "7c8b81e7-b08b-46e4-9729-191cb801c132"
    assert event.merchant_id == "123456"


def test_parse_event_of_an_unsuccessful_operation_and_without_a_key() -> None:
    data = event_json("CAPTURED", success=False)
    del data["idempotencyKey"]
    event = wire.parse_event(data)
    assert event.success is False
    assert event.idempotency_key is None


def test_parse_event_reads_merchant_serial_number_spelling() -> None:
    data = event_json()
    del data["msn"]
    data["merchantSerialNumber"] = "2060591"
    assert wire.parse_event(data).merchant_id == "2060591"


def test_parse_event_log_entry_with_seven_digit_timestamp() -> None:
    data = event_json("CREATED", timestamp="2023-03-27T10:51:44.5333258Z")
    del data["msn"]  # event-log entries carry no MSN
    event = wire.parse_event(data)
    assert event.occurred_at == datetime(2023, 3, 27, 10, 51, 44, 533325, UTC)
    assert event.merchant_id is None


@pytest.mark.parametrize("name", ["PAYMENT_CREATED", "captured", "", None, "epayments.x"])
def test_parse_event_refuses_unknown_names(name: str | None) -> None:
    with pytest.raises(ProviderError, match="event name"):
        wire.parse_event(event_json(name))  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [49900.0, "49900", False])
def test_parse_event_refuses_non_integer_amounts(value: object) -> None:
    with pytest.raises(ProviderError, match="integer"):
        wire.parse_event(event_json(amount={"currency": "NOK", "value": value}))


# --- problem() -------------------------------------------------------------------------------


def test_problem_reads_rfc7807() -> None:
    response = problem(
        400,
        "Cannot capture before reservation",
        code="6080",
        detail="The amount you tried to capture is not reserved.",
        trace_id="00-813b63975adcaaeef2b0ec7c103c40e3-706492e906541d31-01",
    )
    error = wire.problem(response)
    assert type(error) is ProviderError
    assert error.status == 400
    assert error.code == "6080"
    assert error.trace_id == "00-813b63975adcaaeef2b0ec7c103c40e3-706492e906541d31-01"
    assert error.message == (
        "Cannot capture before reservation: The amount you tried to capture is not reserved."
    )
    assert error.retryable is False
    assert "code 6080" in str(error) and "HTTP 400" in str(error)


def test_problem_without_error_code_is_a_validation_error() -> None:
    response = httpx.Response(
        400,
        json={
            "type": "https://httpstatuses.io/400",
            "title": "Bad Request",
            "status": 400,
            "detail": "See extraDetails for further details",
            "extraDetails": [{"name": "reference", "reason": "The field Reference must match"}],
            "traceId": "t-1",
        },
    )
    error = wire.problem(response)
    assert error.code is None
    assert error.message == "Bad Request: See extraDetails for further details"
    assert error.trace_id == "t-1"


def test_problem_title_without_detail() -> None:
    error = wire.problem(problem(422, "Payment cannot be created", code="5070"))
    assert error.message == "Payment cannot be created"
    assert error.code == "5070"
    assert error.status == 422


@pytest.mark.parametrize(
    "response",
    [
        problem(404, "Reference not found", code="5090"),
        problem(400, "Reference not found", code="5090"),
    ],
)
def test_problem_marks_not_found(response: httpx.Response) -> None:
    error = wire.problem(response)
    assert isinstance(error, PaymentNotFound)
    assert error.status == response.status_code


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(404, json={"title": "Not Found", "status": 404}),
        httpx.Response(404, json={"statusCode": 404, "message": "Resource not found"}),
        httpx.Response(404, text="<html>nope</html>"),
        problem(404, "Not Found"),
    ],
)
def test_a_404_without_5090_says_nothing_about_the_payment(response: httpx.Response) -> None:
    """A gateway's or a routing 404 must not let anyone conclude the payment is gone."""
    error = wire.problem(response)
    assert type(error) is ProviderError
    assert error.status == 404 and error.code is None


def test_problem_reads_an_apim_error() -> None:
    response = httpx.Response(
        401,
        json={
            "statusCode": 401,
            "message": "Access denied due to missing subscription key. Make sure to include ...",
        },
    )
    error = wire.problem(response)
    assert type(error) is ProviderError
    assert error.status == 401
    assert error.message.startswith("Access denied due to missing subscription key")
    assert error.code is None and error.trace_id is None
    assert error.retryable is False


@pytest.mark.parametrize(
    ("response", "message", "retryable"),
    [
        (httpx.Response(502, text="<html>Bad gateway</html>"), "Bad Gateway", True),
        (httpx.Response(503, content=b""), "Service Unavailable", True),
        (httpx.Response(500, content=b"\xff\xfe not utf-8"), "Internal Server Error", True),
        (httpx.Response(400, json=["a", "list"]), "Bad Request", False),
        (httpx.Response(403, json="just a string"), "Forbidden", False),
    ],
)
def test_problem_survives_bodies_that_are_not_problems(
    response: httpx.Response, message: str, retryable: bool
) -> None:
    error = wire.problem(response)
    assert error.message == message
    assert error.status == response.status_code
    assert error.retryable is retryable
    assert error.code is None


@pytest.mark.parametrize(("code", "retryable"), [("6160", True), ("6280", True), ("6090", False)])
def test_problem_retryable_codes(code: str, retryable: bool) -> None:
    assert wire.problem(problem(400, "x", code=code)).retryable is retryable


# --- create_body -----------------------------------------------------------------------------


def test_create_body_push() -> None:
    body = wire.create_body(request())
    assert body == {
        "amount": {"currency": "NOK", "value": 49900},
        "paymentMethod": {"type": "WALLET"},
        "reference": REFERENCE,
        "userFlow": "PUSH_MESSAGE",
        "paymentDescription": "Invoice 1001 from Acme",
        "customer": {"phoneNumber": "4791234567"},
    }
    assert "returnUrl" not in body and "qrFormat" not in body and "expiresAt" not in body
    assert_valid_create_body(body)


def test_create_body_qr() -> None:
    body = wire.create_body(request(user_flow=UserFlow.qr, phone_msisdn=None))
    assert body["userFlow"] == "QR"
    # The link itself (we draw the code and can send the link); the payer of an invoice is
    # not standing at a till.
    assert body["qrFormat"] == {"format": "TEXT/TARGETURL"}
    assert body["customerInteraction"] == "CUSTOMER_NOT_PRESENT"
    assert "customer" not in body and "returnUrl" not in body
    assert_valid_create_body(body)


def test_create_body_redirect() -> None:
    body = wire.create_body(
        request(
            user_flow=UserFlow.redirect,
            phone_msisdn=None,
            return_url="https://pay.example.com/r/acme?x=1",
        )
    )
    assert body["userFlow"] == "WEB_REDIRECT"
    assert body["returnUrl"] == "https://pay.example.com/r/acme?x=1"
    assert "qrFormat" not in body and "customer" not in body
    assert_valid_create_body(body)


def test_create_body_long_living_with_receipt() -> None:
    oslo = timezone(timedelta(hours=1))
    lines = [
        line("INV-1001-1", quantity="2", unit_price=10000, rate_bp=2500),
        line("INV-1001-2", quantity="1.5", unit_price=2000, rate_bp=1500),
        line("INV-1002-rest", quantity="1", unit_price=5000, rate_bp=0),
    ]
    total = sum(item.total for item in lines)
    body = wire.create_body(
        request(
            amount=Money(total, "NOK"),
            expires_at=datetime(2026, 3, 1, 12, 30, 15, 987654, tzinfo=oslo),
            order_lines=lines,
            metadata={"requestId": "42"},
        )
    )
    assert body["expiresAt"] == "2026-03-01T11:30:15Z"
    assert body["metadata"] == {"requestId": "42"}
    receipt = body["receipt"]
    assert receipt["bottomLine"] == {"currency": "NOK"}
    first, second, third = receipt["orderLines"]
    assert first == {
        "name": "INV-1001-1: Consulting",
        "id": "INV-1001-1",
        "totalAmount": 25000,
        "totalAmountExcludingTax": 20000,
        "totalTaxAmount": 5000,
        "taxRate": 2500,
        "unitInfo": {"unitPrice": 12500, "quantity": "2", "quantityUnit": "PCS"},
    }
    assert second["taxRate"] == 1500
    assert second["unitInfo"] == {"unitPrice": 2300, "quantity": "1.5", "quantityUnit": "PCS"}
    assert third["taxRate"] == 0
    assert sum(item["totalAmount"] for item in receipt["orderLines"]) == body["amount"]["value"]
    assert_valid_create_body(body)


def test_expires_at_is_rfc3339_utc_whatever_the_zone() -> None:
    moment = datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)
    for zone in (UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))):
        body = wire.create_body(request(expires_at=moment.astimezone(zone), order_lines=[line()]))
        assert body["expiresAt"] == "2026-06-30T23:59:59Z"


@pytest.mark.parametrize(
    ("quantity", "wire_quantity"),
    [("1.000", "1"), ("10", "10"), ("0.25", "0.25"), ("100.500", "100.5")],
)
def test_quantity_is_a_plain_decimal_string(quantity: str, wire_quantity: str) -> None:
    body = wire.create_body(request(order_lines=[line(quantity=quantity)]))
    assert body["receipt"]["orderLines"][0]["unitInfo"]["quantity"] == wire_quantity
    assert_valid_create_body(body)


def broken_create_bodies() -> list[dict[str, Any]]:
    good = wire.create_body(
        request(order_lines=[line()], expires_at=datetime(2026, 1, 1, tzinfo=UTC))
    )
    assert_valid_create_body(good)
    broken: list[dict[str, Any]] = [copy.deepcopy(good) for _ in range(5)]
    broken[0]["amount"]["value"] = 499.0
    del broken[1]["receipt"]["orderLines"][0]["taxRate"]
    broken[2]["receipt"]["orderLines"][0]["totalAmount"] = 100.5
    broken[3]["customer"] = {"phoneNumber": "+47 912 34 567"}
    broken[4]["userFlow"] = "PUSH"
    return broken


def test_the_schema_check_is_live() -> None:
    """Our description must refuse what Vipps refuses, or the tests above prove nothing."""
    for body in broken_create_bodies():
        with pytest.raises(jsonschema.ValidationError):
            validate("create_request", body)


def test_the_official_schema_check_is_live() -> None:
    specs = require_official()
    for body in broken_create_bodies():
        with pytest.raises(jsonschema.ValidationError):
            specs.check_request("POST", PAYMENTS, body)


def test_the_answers_scripted_here_keep_the_contract() -> None:
    validate("payment", payment_json(authorized=49900, captured=20000, refunded=5000))
    validate("webhook_event", event_json())
    log_entry = event_json("CAPTURED", idempotencyKey=None)
    del log_entry["msn"]
    validate("payment_event", log_entry)
    validate("problem", problem(400, "Cannot capture before reservation", code="6080").json())


amounts = st.integers(min_value=0, max_value=10_000_000)


@st.composite
def order_lines(draw: st.DrawFn) -> OrderLine:
    net = draw(amounts)
    rate_bp = draw(st.sampled_from([0, 600, 1000, 1200, 1500, 2500]))
    tax = net * rate_bp // 10_000
    milli = draw(st.integers(min_value=1, max_value=99_999_999_999))  # some too long to send
    return OrderLine(
        line_id=draw(st.from_regex(r"[A-Z0-9-]{1,20}", fullmatch=True)),
        name=draw(st.text(min_size=1, max_size=100)),
        quantity=str(Decimal(milli) / 1000),
        unit_price_including_tax=unit_price_including_tax(net + tax, milli),
        total=net + tax,
        total_excluding_tax=net,
        tax_amount=tax,
        tax_rate_bp=rate_bp,
    )


@settings(max_examples=60, deadline=None)
@given(
    value=st.integers(min_value=1, max_value=65_000_000),
    currency=st.sampled_from(["NOK", "DKK", "EUR"]),
    flow=st.sampled_from(list(UserFlow)),
    lines=st.lists(order_lines(), max_size=5),
    minutes=st.none() | st.integers(min_value=11, max_value=60 * 24 * 27),
)
def test_any_create_body_is_valid_and_float_free(
    value: int,
    currency: str,
    flow: UserFlow,
    lines: list[OrderLine],
    minutes: int | None,
) -> None:
    # expiresAt goes with push and QR only (docs/vipps.md#long-living-payments).
    long_living = minutes is not None and flow is not UserFlow.redirect
    expires = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes or 0)
    expires_at = expires if long_living else None
    body = wire.create_body(
        request(
            amount=Money(value, currency),
            user_flow=flow,
            phone_msisdn="4791234567" if flow is UserFlow.push else None,
            return_url="https://pay.example.com/r" if flow is UserFlow.redirect else None,
            order_lines=lines if lines or expires_at is None else [line()],
            expires_at=expires_at,
        )
    )
    assert body["amount"] == {"currency": currency, "value": value}
    assert_valid_create_body(body)


# --- VippsProvider.create_payment ------------------------------------------------------------


@pytest.fixture
async def harnesses() -> AsyncIterator[Harnesses]:
    made = Harnesses()
    yield made
    await made.aclose()


def provider(h: Harness, url: str = "https://pay.example.com/hooks/vipps") -> VippsProvider:
    return VippsProvider(
        h.client, webhook_url=url, capabilities=capabilities_for("NO", long_living=False)
    )


def got(reference: str = REFERENCE, redirect: str | None = None) -> httpx.Response:
    data = payment_json("CREATED")
    data["reference"] = reference
    if redirect:
        data["redirectUrl"] = redirect
    return httpx.Response(200, json=data)


def created(redirect: str | None = "https://landing.vipps.no?token=abc") -> httpx.Response:
    data: dict[str, Any] = {"reference": REFERENCE}
    if redirect:
        data["redirectUrl"] = redirect
    return httpx.Response(201, json=data)


ONE = f"{PAYMENTS}/{REFERENCE}"


@pytest.fixture
def small(harnesses: Harnesses) -> Iterator[Harness]:
    yield harnesses(retry=RetryPolicy(attempts=2, base_delay=0.1, max_delay=1.0))


async def test_create_sends_the_body_once_on_success(small: Harness) -> None:
    small.fake.on("POST", PAYMENTS, created())
    result = await provider(small).create_payment(request())
    assert result == CreatedPayment(REFERENCE, "https://landing.vipps.no?token=abc")
    (post,) = small.fake.api_requests()
    assert post.headers["Idempotency-Key"] == KEY
    assert json.loads(post.content) == wire.create_body(request())


async def test_a_lost_answer_is_resolved_by_get_without_a_second_post(small: Harness) -> None:
    small.fake.on("POST", PAYMENTS, read_timeout, read_timeout)
    small.fake.on("GET", ONE, got(redirect="https://landing.vipps.no?token=xyz"))
    result = await provider(small).create_payment(request())
    assert result == CreatedPayment(REFERENCE, "https://landing.vipps.no?token=xyz")
    assert len(small.fake.api_requests("POST")) == 2  # the client's own attempts, one round
    assert len(small.fake.api_requests("GET")) == 1
    assert small.fake.leftovers() == {}


async def test_a_lost_answer_and_get_404_posts_again_with_the_same_key(small: Harness) -> None:
    small.fake.on("POST", PAYMENTS, read_timeout, read_timeout, created())
    small.fake.on("GET", ONE, problem(404, "Reference not found", code="5090"))
    result = await provider(small).create_payment(request())
    assert result.reference == REFERENCE
    posts = small.fake.api_requests("POST")
    assert len(posts) == 3
    assert {p.headers["Idempotency-Key"] for p in posts} == {KEY}
    assert len({p.content for p in posts}) == 1  # same key, same body
    assert small.fake.requests.index(small.fake.api_requests("GET")[0]) < small.fake.requests.index(
        posts[2]
    )


async def test_a_5xx_after_every_attempt_is_also_resolved_by_get(small: Harness) -> None:
    small.fake.on("POST", PAYMENTS, problem(500, "Internal"), problem(503, "Busy"))
    small.fake.on("GET", ONE, got())
    assert (await provider(small).create_payment(request())).reference == REFERENCE
    assert len(small.fake.api_requests("POST")) == 2


async def test_when_nothing_ever_answers_the_outcome_is_unknown(small: Harness) -> None:
    small.fake.on("POST", PAYMENTS, *[read_timeout] * 4)
    not_found = problem(404, "Reference not found", code="5090")
    small.fake.on("GET", ONE, not_found, not_found)
    with pytest.raises(OutcomeUnknown):
        await provider(small).create_payment(request())
    assert {p.headers["Idempotency-Key"] for p in small.fake.api_requests("POST")} == {KEY}


async def test_a_get_that_also_fails_is_outcome_unknown(small: Harness) -> None:
    small.fake.on("POST", PAYMENTS, read_timeout, read_timeout)
    small.fake.on("GET", ONE, read_timeout, read_timeout)
    with pytest.raises(OutcomeUnknown):
        await provider(small).create_payment(request())
    assert len(small.fake.api_requests("POST")) == 2


@pytest.mark.parametrize("code", ["4150", "4020"])
async def test_already_created_refusal_then_get_200_is_success(small: Harness, code: str) -> None:
    small.fake.on("POST", PAYMENTS, problem(409 if code == "4020" else 400, "Exists", code=code))
    small.fake.on("GET", ONE, got(redirect="https://landing.vipps.no?token=old"))
    result = await provider(small).create_payment(request())
    assert result == CreatedPayment(REFERENCE, "https://landing.vipps.no?token=old")
    assert len(small.fake.api_requests("POST")) == 1


async def test_reference_exists_but_get_404_is_a_staff_readable_refusal(small: Harness) -> None:
    small.fake.on("POST", PAYMENTS, problem(400, "Reference already exists", code="4150"))
    small.fake.on("GET", ONE, problem(404, "Reference not found", code="5090"))
    with pytest.raises(ProviderError) as caught:
        await provider(small).create_payment(request())
    assert caught.value.message == STAFF_MESSAGES["4150"]
    assert caught.value.code == "4150"
    assert len(small.fake.api_requests("POST")) == 1


async def test_customer_not_found_becomes_the_staff_sentence(small: Harness) -> None:
    trace = "00-aaaabbbbccccddddeeeeffff00001111-2222333344445555-01"
    small.fake.on("POST", PAYMENTS, problem(400, "User not found", code="7010", trace_id=trace))
    with pytest.raises(ProviderError) as caught:
        await provider(small).create_payment(request())
    error = caught.value
    assert error.message == STAFF_MESSAGES["7010"]
    assert error.code == "7010"
    assert error.trace_id == trace
    assert error.status == 400
    assert not isinstance(error, OutcomeUnknown)
    assert len(small.fake.api_requests()) == 1  # no GET, no retry


async def test_an_unknown_refusal_keeps_the_providers_words(small: Harness) -> None:
    small.fake.on("POST", PAYMENTS, problem(400, "Invalid URL", code="4090", detail="returnUrl"))
    with pytest.raises(ProviderError) as caught:
        await provider(small).create_payment(request())
    assert caught.value.message == "Invalid URL: returnUrl"
    assert caught.value.code == "4090"


async def test_every_request_the_provider_sends_keeps_the_contract(small: Harness) -> None:
    hooks, hook_id = "/webhooks/v1/webhooks", "0f8a5c1e-4ad4-4f7c-9b0e-2a77e1b2c3d4"
    changed = {k: v for k, v in payment_json().items() if k not in ("paymentMethod", "profile")}
    small.fake.on("POST", PAYMENTS, created())
    for operation in ("capture", "refund", "cancel"):
        small.fake.on("POST", f"{ONE}/{operation}", httpx.Response(200, json=changed))
    small.fake.on("GET", ONE, got(), got(), got(), got())
    small.fake.on("GET", f"{ONE}/events", httpx.Response(200, json=[]))
    small.fake.on("POST", hooks, httpx.Response(201, json={"id": hook_id, "secret": "s"}))
    small.fake.on("GET", hooks, httpx.Response(200, json={"webhooks": []}))
    small.fake.on("DELETE", f"{hooks}/{hook_id}", httpx.Response(204))
    vipps = provider(small)
    await vipps.create_payment(request(order_lines=[line()], expires_at=datetime.now(UTC)))
    await vipps.capture(REFERENCE, Money(100, "NOK"), idempotency_key="capture-1")
    await vipps.refund(REFERENCE, Money(100, "NOK"), idempotency_key="refund-1")
    await vipps.cancel(REFERENCE, idempotency_key="cancel-1")
    await vipps.get_payment(REFERENCE)
    await vipps.get_events(REFERENCE)
    await vipps.register_webhook("https://pay.example.com/hooks/vipps")
    await vipps.list_webhooks()
    await vipps.delete_webhook(hook_id)
    assert small.fake.leftovers() == {}
    for sent in small.fake.requests:
        body = json.loads(sent.content) if sent.content else None
        checker().check_request(sent.method, sent.url.path, body)


# --- webhooks through the provider ----------------------------------------------------------

HOOK_URL = "https://example.com:8443/hooks/vipps?env=test"
HOOK_SECRET = "090a478d-37ff-4e77-970e-d457aeb26a3a"
HOOK_DATE = "Mon, 19 Jan 2026 16:26:33 GMT"
HOOK_BODY = json.dumps(event_json(), separators=(",", ":")).encode()


def hook_headers(body: bytes = HOOK_BODY) -> dict[str, str]:
    return {
        "x-ms-date": HOOK_DATE,
        "x-ms-content-sha256": content_hash(body),
        "Authorization": authorization(HOOK_SECRET, HOOK_URL, HOOK_DATE, body),
        "Host": "example.com:8443",
    }


async def test_parse_webhook_verifies_then_reads(harnesses: Harnesses) -> None:
    vipps = VippsProvider(
        harnesses(FakeVipps()).client,
        webhook_url=HOOK_URL,
        capabilities=capabilities_for("NO", long_living=True),
        check_webhook_date=False,
    )
    event = vipps.parse_webhook(HOOK_BODY, hook_headers(), secrets=["old", HOOK_SECRET])
    assert event.name is EventName.authorized
    assert event.amount == Money(49900, "NOK")
    with pytest.raises(WebhookRejected):
        vipps.parse_webhook(HOOK_BODY, hook_headers(), secrets=["old"])
    junk = b'{"name":"AUTHORIZED"}'
    with pytest.raises(WebhookRejected, match="unreadable"):
        vipps.parse_webhook(junk, hook_headers(junk), secrets=[HOOK_SECRET])


async def test_parse_webhook_checks_the_date_by_default(harnesses: Harnesses) -> None:
    vipps = VippsProvider(
        harnesses(FakeVipps()).client,
        webhook_url=HOOK_URL,
        capabilities=capabilities_for("NO", long_living=True),
    )
    with pytest.raises(WebhookRejected, match="too far"):  # signed in January 2026
        vipps.parse_webhook(HOOK_BODY, hook_headers(), secrets=[HOOK_SECRET])
