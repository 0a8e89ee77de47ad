"""The contract checker itself: it must fail on responses that break the spec."""

from __future__ import annotations

import json

import httpx
import jsonschema
import pytest

from payrequest.sandbox import api_epayment
from tests.sandbox.contract import checker
from tests.sandbox.helpers import Api, new_reference


def test_spec_folder_is_found_and_receipt_resolves_offline() -> None:
    schema = {"$ref": "#/components/schemas/CreatePaymentRequest"}
    body = {
        "amount": {"currency": "NOK", "value": 100},
        "paymentMethod": {"type": "WALLET"},
        "reference": "abcdefgh",
        "userFlow": "QR",
        "receipt": {"orderLines": [{"name": "x"}], "bottomLine": {"currency": "NOK"}},
    }
    with pytest.raises(jsonschema.ValidationError, match="'id' is a required property"):
        checker().validate("epayment-v1.yaml", schema, body)


def test_checker_rejects_a_broken_body() -> None:
    good = {"reference": "abcdefgh-1", "redirectUrl": "https://x.example/l"}
    checker().check(
        "POST", "/epayment/v1/payments", 201, "application/json", json.dumps(good).encode()
    )
    with pytest.raises(jsonschema.ValidationError):
        checker().check(
            "POST", "/epayment/v1/payments", 201, "application/json", b'{"redirectUrl": 5}'
        )
    with pytest.raises(AssertionError, match="not in the spec"):
        checker().check("POST", "/epayment/v1/payments", 302, "application/json", b"{}")
    with pytest.raises(AssertionError, match="content type"):
        checker().check("GET", "/epayment/v1/payments/abcdefgh-1", 200, "text/html", b"{}")


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
    seen = {op for _, op, _ in checker().seen}
    assert "POST /epayment/v1/payments" in seen
    assert "POST /epayment/v1/payments/{reference}/capture" in seen
    assert "POST /accesstoken/get" in seen
