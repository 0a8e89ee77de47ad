"""The contract checker itself: it must fail on answers that break the contract.

Our own description (tests/contract) is checked in every run; the tests marked "official" need
the official OpenAPI files and skip, naming PAYREQUEST_VIPPS_SPEC_DIR, when they are absent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from payrequest.sandbox import api_epayment, create_sandbox_app
from tests.contract import official
from tests.contract.checker import checker
from tests.contract.operations import OPERATIONS, api_path, operation
from tests.contract.vipps_wire import validate
from tests.sandbox.helpers import Api, new_reference

GOOD_CREATED = {"reference": "abcdefgh-1", "redirectUrl": "https://x.example/l"}


def check(
    status: int,
    body: Any,
    content_type: str = "application/json",
    *,
    method: str = "POST",
    path: str = "/epayment/v1/payments",
    request_body: bytes | None = None,
) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    checker().check(method, path, status, content_type, raw, request_body=request_body)


def test_checker_rejects_a_broken_answer() -> None:
    check(201, GOOD_CREATED)
    with pytest.raises(jsonschema.ValidationError):
        check(201, {"redirectUrl": 5})
    with pytest.raises(AssertionError, match="not one this operation answers"):
        check(302, {})
    with pytest.raises(AssertionError, match="content type"):
        check(200, b"{}", "text/html", method="GET", path="/epayment/v1/payments/abcdefgh-1")
    with pytest.raises(AssertionError, match="not an operation"):
        check(200, {}, method="GET", path="/epayment/v1/payment/abcdefgh-1")


def test_checker_pairs_a_create_answer_with_its_request() -> None:
    push = json.dumps({"reference": "abcdefgh-1", "userFlow": "PUSH_MESSAGE"}).encode()
    check(201, {"reference": "abcdefgh-1"}, request_body=push)
    with pytest.raises(AssertionError, match="no redirectUrl for PUSH_MESSAGE"):
        check(201, GOOD_CREATED, request_body=push)
    other = json.dumps({"reference": "abcdefgh-2", "userFlow": "QR"}).encode()
    with pytest.raises(AssertionError, match="names the reference"):
        check(201, GOOD_CREATED, request_body=other)


def test_gateway_answers_are_checked_too() -> None:
    check(429, {"statusCode": 429, "message": "Rate limit is exceeded."})
    with pytest.raises(AssertionError, match="gateway error body with this status"):
        check(400, {"statusCode": 400, "message": "no"})
    with pytest.raises(AssertionError, match="statusCode"):
        check(503, {"statusCode": 500, "message": "Injected server error"})


async def test_hook_catches_an_emulator_that_breaks_the_contract(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = new_reference()
    await api.create(reference)
    original = api_epayment.payment_body

    def broken(request: object, payment: object) -> dict[str, object]:
        body = original(request, payment)  # type: ignore[arg-type]
        del body["aggregate"]
        return body

    monkeypatch.setattr(api_epayment, "payment_body", broken)
    with pytest.raises(jsonschema.ValidationError, match="aggregate"):
        await api.get(reference)


def test_webhook_payload_schema_is_enforced() -> None:
    with pytest.raises(jsonschema.ValidationError):
        checker().webhook_event({"msn": "123456", "reference": "abcdefgh-1", "name": "PAID"})


async def test_contract_hook_saw_the_api(api: Api, client: httpx.AsyncClient) -> None:
    reference = await api.authorized(1000)
    await api.modify("capture", reference, 1000)
    seen = {name for name, _ in checker().seen}
    assert "POST /epayment/v1/payments" in seen
    assert "POST /epayment/v1/payments/{reference}/capture" in seen
    assert "POST /accesstoken/get" in seen


def test_every_emulated_api_route_is_described_and_every_description_emulated() -> None:
    paths: dict[str, dict[str, Any]] = create_sandbox_app().openapi()["paths"]
    routes = [
        (method.upper(), path)
        for path, methods in paths.items()
        if api_path(path) is not None
        for method in methods
    ]
    for method, path in routes:
        operation(method, path)  # raises for a route the description lacks
    for op in OPERATIONS:
        assert any(op.matches(method, path) for method, path in routes), op.name


def test_the_official_layer_is_off_with_a_reason_when_its_files_are_absent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(official.ENV, str(tmp_path))
    folder, why = official.spec_dir()
    assert folder is None
    assert official.ENV in why and "epayment-v1.yaml" in why
    assert official.official() is None
    assert checker().official is None
    with pytest.raises(pytest.skip.Exception, match=official.ENV):
        official.require_official()


# --- the official OpenAPI files (skipped without them) ---------------------------------------


def test_official_files_resolve_the_receipt_offline() -> None:
    specs = official.require_official()
    schema = {"$ref": "#/components/schemas/CreatePaymentRequest"}
    body = {
        "amount": {"currency": "NOK", "value": 100},
        "paymentMethod": {"type": "WALLET"},
        "reference": "abcdefgh",
        "userFlow": "QR",
        "receipt": {"orderLines": [{"name": "x"}], "bottomLine": {"currency": "NOK"}},
    }
    with pytest.raises(jsonschema.ValidationError, match="'id' is a required property"):
        specs.validate("epayment-v1.yaml", schema, body)


def test_official_layer_rejects_a_broken_answer() -> None:
    specs = official.require_official()
    assert checker().official is specs
    good = json.dumps(GOOD_CREATED).encode()
    specs.check("POST", "/epayment/v1/payments", 201, "application/json", good)
    with pytest.raises(jsonschema.ValidationError):
        specs.check("POST", "/epayment/v1/payments", 201, "application/json", b'{"redirectUrl": 5}')
    with pytest.raises(AssertionError, match="not in the spec"):
        specs.check("POST", "/epayment/v1/payments", 302, "application/json", b"{}")


def test_official_examples_keep_our_description() -> None:
    """Our own description accepts what the official files give as examples."""
    specs = official.require_official()
    epayment = specs.specs["epayment-v1.yaml"]["components"]
    created = epayment["responses"]["CreatePaymentResponse"]["content"]["application/json"]
    for example in created["examples"].values():
        validate("create_response", example["value"])
    receipts = specs.specs["order-management-2.3.24.yaml"]["components"]["schemas"]["Receipt"]
    for receipt in receipts["x-examples"].values():
        validate("receipt", receipt)
