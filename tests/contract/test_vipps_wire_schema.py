"""Our own description of the Vipps MobilePay wire format accepts good bodies and refuses
broken ones; otherwise every contract check built on it would prove nothing."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from tests.contract.checker import ContractChecker
from tests.contract.operations import aggregate_rules, create_rules, receipt_rules
from tests.contract.vipps_wire import validate

TRACE = "00-813b63975adcaaeef2b0ec7c103c40e3-706492e906541d31-01"
NOK = {"currency": "NOK", "value": 49900}
ZERO = {"currency": "NOK", "value": 0}
CREATE: dict[str, Any] = {
    "amount": NOK,
    "paymentMethod": {"type": "WALLET"},
    "reference": "acme-shop-123-order123abc",
    "userFlow": "PUSH_MESSAGE",
    "paymentDescription": "Invoice 10023",
    "customer": {"phoneNumber": "4791234567"},
    "expiresAt": "2026-03-01T11:30:15Z",
    "receipt": {
        "orderLines": [
            {
                "name": "Invoice 10023",
                "id": "10023",
                "totalAmount": 49900,
                "totalAmountExcludingTax": 39920,
                "totalTaxAmount": 9980,
                "taxPercentage": 25,
                "unitInfo": {"unitPrice": 49900, "quantity": "1", "quantityUnit": "PCS"},
            }
        ],
        "bottomLine": {"currency": "NOK"},
    },
    "profile": {"scope": "phoneNumber"},
    "metadata": {"requestId": "42"},
}
PAYMENT: dict[str, Any] = {
    "aggregate": {
        "authorizedAmount": NOK,
        "cancelledAmount": ZERO,
        "capturedAmount": NOK,
        "refundedAmount": ZERO,
    },
    "amount": NOK,
    "state": "AUTHORIZED",
    "paymentMethod": {"type": "WALLET"},
    "profile": {"sub": "c06c4afe-d9e1-4c5d-939a-177d752a0944"},
    "pspReference": "37c34d8c-2649-448e-864b-060d5d93e4c4",
    "reference": "acme-shop-123-order123abc",
    "redirectUrl": "https://landing.vipps.no?token=abc",
}
EVENT: dict[str, Any] = {
    "msn": "123456",
    "reference": "acme-shop-123-order123abc",
    "pspReference": "dd8e0a8e-2b26-40ed-98f1-1d5832fc129f",
    "name": "AUTHORIZED",
    "amount": NOK,
    "timestamp": "2023-03-27T10:51:44.5333258Z",
    "idempotencyKey": "7c8b81e7-b08b-46e4-9729-191cb801c132",
    "success": True,
}
PROBLEM: dict[str, Any] = {
    "type": "https://httpstatuses.io/400",
    "title": "Cannot capture before reservation",
    "detail": "The amount you tried to capture is not reserved.",
    "instance": "/v1/payments/acme-shop-123-order123abc/capture",
    "status": 400,
    "extraDetails": [{"name": "ErrorCode", "reason": "6080"}],
    "traceId": TRACE,
}
TOKEN: dict[str, Any] = {
    "token_type": "Bearer",
    "expires_in": "3600",
    "ext_expires_in": "0",
    "expires_on": "1495271273",
    "not_before": "1495184574",
    "resource": "00000002-0000-0000-c000-000000000000",
    "access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJleHAiOjF9.c2ln",
}
USERINFO: dict[str, Any] = {
    "sub": "c06c4afe-d9e1-4c5d-939a-177d752a0944",
    "phone_number": "4791234567",
    "phone_number_verified": True,
}
GOOD = {
    "userinfo": USERINFO,
    "create_request": CREATE,
    "payment": PAYMENT,
    "webhook_event": EVENT,
    "problem": PROBLEM,
    "token_response": TOKEN,
}

Change = Callable[[dict[str, Any]], None]


def drop(*path: str | int) -> Change:
    def change(body: dict[str, Any]) -> None:
        target: Any = body
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return change


def both(*changes: Change) -> Change:
    def change(body: dict[str, Any]) -> None:
        for one in changes:
            one(body)

    return change


def put(value: Any, *path: str | int) -> Change:
    def change(body: dict[str, Any]) -> None:
        target: Any = body
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


@pytest.mark.parametrize("name", sorted(GOOD))
def test_the_examples_are_good(name: str) -> None:
    validate(name, GOOD[name])


LINE = ("receipt", "orderLines", 0)
RETURN = put("https://pay.example/r", "returnUrl")
NOT_A_CODE = [{"name": "ErrorCode", "reason": "x"}]
BROKEN: list[tuple[str, str, Change]] = [
    ("payment", "missing aggregate", drop("aggregate")),
    ("payment", "missing refundedAmount", drop("aggregate", "refundedAmount")),
    ("payment", "float amount value", put(499.0, "amount", "value")),
    ("payment", "string amount value", put("49900", "aggregate", "capturedAmount", "value")),
    ("payment", "amount above the limit", put(65_000_001, "amount", "value")),
    ("payment", "unknown state", put("CAPTURED", "state")),
    ("payment", "misspelt field", put("x", "pspReferance")),
    ("payment", "profile sub before approval", put("CREATED", "state")),
    ("payment", "unknown currency", put("SEK", "amount", "currency")),
    ("create_request", "reference with underscore", put("acme_shop_123", "reference")),
    ("create_request", "reference too short", put("abc-123", "reference")),
    ("create_request", "reference too long", put("a" * 65, "reference")),
    ("create_request", "float amount", put(499.5, "amount", "value")),
    ("create_request", "description too short", put("ab", "paymentDescription")),
    ("create_request", "description too long", put("x" * 101, "paymentDescription")),
    ("create_request", "phone with a plus", put({"phoneNumber": "+4791234567"}, "customer")),
    ("create_request", "two customer ids", put("https://qr.example/1", "customer", "personalQr")),
    ("create_request", "push without customer", drop("customer")),
    (
        "create_request",
        "expiresAt with WEB_REDIRECT",
        both(put("WEB_REDIRECT", "userFlow"), RETURN),
    ),
    ("create_request", "expiresAt without receipt", drop("receipt")),
    ("create_request", "expiresAt without zone", put("2026-03-01T11:30:15", "expiresAt")),
    ("create_request", "qrFormat with push", put({"format": "IMAGE/SVG+XML"}, "qrFormat")),
    ("create_request", "unknown scope", put("phoneNumber shoeSize", "profile", "scope")),
    ("create_request", "empty receipt", put([], "receipt", "orderLines")),
    ("create_request", "line without tax", drop(*LINE, "taxPercentage")),
    ("create_request", "float line total", put(0.5, *LINE, "totalAmount")),
    ("create_request", "quantity as a number", put(1, *LINE, "unitInfo", "quantity")),
    ("create_request", "quantity over 10 long", put("1234567.125", *LINE, "unitInfo", "quantity")),
    ("create_request", "unknown quantity unit", put("HOUR", *LINE, "unitInfo", "quantityUnit")),
    ("create_request", "unitInfo without unitPrice", drop(*LINE, "unitInfo", "unitPrice")),
    ("create_request", "negative discount", put(-1, *LINE, "discount")),
    ("create_request", "tax rate over 100 %", put(10_001, *LINE, "taxRate")),
    (
        "create_request",
        "unknown barcode format",
        put({"format": "QR", "data": "1"}, "receipt", "bottomLine", "barcode"),
    ),
    (
        "create_request",
        "unknown payment source",
        put({"crypto": 1}, "receipt", "bottomLine", "paymentSources"),
    ),
    ("create_request", "unknown customerInteraction", put("IN_STORE", "customerInteraction")),
    (
        "create_request",
        "airline data without a passenger",
        put(
            {
                "airlineData": {
                    "agencyInvoiceNumber": "123456",
                    "airlineCode": "074",
                    "airlineDesignatorCode": "KL",
                }
            },
            "industryData",
        ),
    ),
    ("create_request", "too much metadata", put({str(i): "v" for i in range(6)}, "metadata")),
    ("create_request", "field unknown to the API", put("x", "orderId")),
    ("webhook_event", "missing msn", drop("msn")),
    ("webhook_event", "unknown event name", put("PAID", "name")),
    ("webhook_event", "timestamp without zone", put("2023-03-27 10:51:44", "timestamp")),
    ("webhook_event", "success as text", put("true", "success")),
    ("problem", "missing traceId", drop("traceId")),
    (
        "problem",
        "ErrorCode not a number",
        put([{"name": "ErrorCode", "reason": "x"}], "extraDetails"),
    ),
    ("problem", "instance with the /epayment prefix", put("/epayment/v1/payments", "instance")),
    ("problem", "status as text", put("400", "status")),
    ("userinfo", "missing sub", drop("sub")),
    ("userinfo", "phone number with a plus", put("+4791234567", "phone_number")),
    ("token_response", "expires_in as a number", put(3600, "expires_in")),
    ("token_response", "token that is no JWT", put("opaque-token", "access_token")),
]


@pytest.mark.parametrize(("name", "why", "change"), BROKEN, ids=[b[1] for b in BROKEN])
def test_a_broken_body_is_refused(name: str, why: str, change: Change) -> None:
    body = copy.deepcopy(GOOD[name])
    change(body)
    with pytest.raises(jsonschema.ValidationError):
        validate(name, body)


def test_aggregate_rules() -> None:
    assert aggregate_rules(PAYMENT) == []
    refunded_too_much = put({"currency": "NOK", "value": 50000}, "aggregate", "refundedAmount")
    for change, rule in (
        (refunded_too_much, "refunded <= captured"),
        (put({"currency": "DKK", "value": 0}, "aggregate", "cancelledAmount"), "currency"),
        (put(NOK, "aggregate", "cancelledAmount"), "captured + cancelled <= authorized"),
        (put("EXPIRED", "state"), "nothing is captured"),
    ):
        body = copy.deepcopy(PAYMENT)
        change(body)
        assert any(rule in broken for broken in aggregate_rules(body)), rule


def test_a_create_with_all_optional_parts_is_good() -> None:
    body = copy.deepcopy(CREATE)
    body["customerInteraction"] = "CUSTOMER_NOT_PRESENT"
    body["industryData"] = {
        "airlineData": {
            "agencyInvoiceNumber": "123456",
            "airlineCode": "074",
            "airlineDesignatorCode": "KL",
            "passengerName": "FLYER / MARY MS.",
            "ticketNumber": "123-1234567890",
        }
    }
    line = body["receipt"]["orderLines"][0]
    line.update(taxRate=2500, discount=0, isReturn=False)
    line["unitInfo"]["quantityUnit"] = "KWH"
    body["receipt"]["bottomLine"].update(
        paymentSources={"card": 49900}, barcode={"format": "CODE 39", "data": "10023"}
    )
    ContractChecker().check_request("POST", "/epayment/v1/payments", body)


def test_receipt_rules() -> None:
    assert receipt_rules(CREATE) == []
    rounded = both(
        put(16633, *LINE, "unitInfo", "unitPrice"), put("3", *LINE, "unitInfo", "quantity")
    )
    for change, rule in (
        (put(39920, *LINE, "unitInfo", "unitPrice"), "unitPrice (including tax) x quantity"),
        (put(9981, *LINE, "totalTaxAmount"), "totalAmount = totalAmountExcludingTax"),
        (put(2400, *LINE, "taxRate"), "taxRate = taxPercentage x 100"),
        (both(rounded, put(49903, *LINE, "totalAmount")), "unitPrice (including tax)"),
        (put(100, *LINE, "discount"), "unitPrice (including tax)"),
    ):
        body = copy.deepcopy(CREATE)
        change(body)
        assert any(rule in broken for broken in receipt_rules(body)), rule
    body = copy.deepcopy(CREATE)
    rounded(body)  # 3 x 166.33 = 498.99 against 499.00: rounding, within (3 + 1) / 2
    assert receipt_rules(body) == []


def test_receipt_rules_are_checked_on_requests_and_on_accepted_creates() -> None:
    body = copy.deepcopy(CREATE)
    put(39920, *LINE, "unitInfo", "unitPrice")(body)  # the net price where gross belongs
    with pytest.raises(AssertionError, match="unitPrice"):
        ContractChecker().check_request("POST", "/epayment/v1/payments", body)
    answer = json.dumps({"reference": CREATE["reference"]}).encode()
    with pytest.raises(AssertionError, match="unitPrice"):  # an emulator that accepted it
        ContractChecker().check(
            "POST",
            "/epayment/v1/payments",
            201,
            "application/json",
            answer,
            json.dumps(body).encode(),
        )


def test_create_rules() -> None:
    assert create_rules(CREATE, {"reference": CREATE["reference"]}) == []
    with_url = {"reference": CREATE["reference"], "redirectUrl": "https://x.example/l"}
    assert create_rules(CREATE, with_url) == ["no redirectUrl for PUSH_MESSAGE"]
    qr = {**CREATE, "userFlow": "QR"}
    assert create_rules(qr, {"reference": CREATE["reference"]}) == [
        "a redirectUrl for every flow but PUSH_MESSAGE"
    ]


def answer(status: int, body: Any, content_type: str, path: str = "/epayment/v1/payments") -> None:
    method = "POST" if path.endswith(("payments", "capture")) else "GET"
    raw = json.dumps(body).encode()
    ContractChecker().check(method, path, status, content_type, raw)


def test_the_content_type_belongs_to_the_contract() -> None:
    capture = f"/epayment/v1/payments/{CREATE['reference']}/capture"
    answer(400, PROBLEM, "application/problem+json", capture)
    with pytest.raises(AssertionError, match="content type application/json"):
        answer(400, PROBLEM, "application/json", capture)
    modification = {k: PAYMENT[k] for k in ("amount", "state", "aggregate", "pspReference")}
    modification["reference"] = PAYMENT["reference"]
    answer(200, modification, "application/json", capture)
    with pytest.raises(AssertionError, match="content type application/problem"):
        answer(200, modification, "application/problem+json", capture)


def test_a_problem_states_the_status_it_was_sent_with() -> None:
    with pytest.raises(AssertionError, match="the problem says status 400"):
        answer(409, PROBLEM, "application/problem+json")


def test_an_answer_of_an_empty_operation_has_no_body() -> None:
    approve = f"/epayment/v1/test/payments/{CREATE['reference']}/approve"
    ContractChecker().check("POST", approve, 200, "", b"")
    with pytest.raises(AssertionError, match="expected no body"):
        ContractChecker().check("POST", approve, 200, "application/json", b"{}")


def test_a_request_body_is_checked_against_its_operation() -> None:
    contract = ContractChecker()
    contract.check_request("POST", "/epayment/v1/payments", CREATE)
    contract.check_request("POST", "/epayment/v1/payments/abcdefgh/cancel", {})
    with pytest.raises(jsonschema.ValidationError):
        contract.check_request("POST", "/epayment/v1/payments/abcdefgh/capture", {"value": 1})
    with pytest.raises(AssertionError, match="takes no body"):
        contract.check_request("GET", "/epayment/v1/payments/abcdefgh", {})
    hook = {"url": "https://pay.example/hooks", "events": ["epayments.payment.created.v1"]}
    contract.check_request("POST", "/webhooks/v1/webhooks", hook)
    hook["events"] = ["epayment.payment.created.v1"]  # the singular is a common mistake
    with pytest.raises(jsonschema.ValidationError):
        contract.check_request("POST", "/webhooks/v1/webhooks", hook)
