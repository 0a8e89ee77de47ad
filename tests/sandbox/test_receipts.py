"""Create refuses what the real API refuses about a payment's fields beyond the basics: the
receipt as the Order Management schema has it (quantities, units, unit prices including tax,
line totals that agree), `customerInteraction`, `industryData` and the `Vipps-System-*`
headers. Each refusal is a 400 Bad Request naming the field, without an ErrorCode."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.sandbox.helpers import RECEIPT, Api, create_body, error_code, new_reference

# 1.5 hours at 1000.00 incl. 25 % VAT: 800.00 net + 200.00 tax per hour.
HOURS: dict[str, Any] = {
    "name": "Consulting",
    "id": "L1",
    "totalAmount": 150000,
    "totalAmountExcludingTax": 120000,
    "totalTaxAmount": 30000,
    "taxRate": 2500,
    "unitInfo": {"unitPrice": 100000, "quantity": "1.5", "quantityUnit": "PCS"},
}


def receipt(**line: Any) -> dict[str, Any]:
    """A receipt of one line: HOURS with `line`'s fields replaced (None removes one)."""
    merged = {**copy.deepcopy(HOURS), **line}
    return {
        "orderLines": [{k: v for k, v in merged.items() if v is not None}],
        "bottomLine": {"currency": "NOK"},
    }


def unit(**fields: Any) -> dict[str, Any]:
    merged = {**HOURS["unitInfo"], **fields}
    return {k: v for k, v in merged.items() if v is not None}


async def _create(api: Api, body_receipt: dict[str, Any], **overrides: Any) -> httpx.Response:
    return await api.create(
        amount={"currency": "NOK", "value": 150000}, receipt=body_receipt, **overrides
    )


def _fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["title"] == "Bad Request" and error_code(response) is None
    return [detail["name"] for detail in body["extraDetails"]]


GOOD: list[tuple[str, dict[str, Any]]] = [
    ("the example line", receipt()),
    ("tax as whole percent", receipt(taxRate=None, taxPercentage=25)),
    ("both tax fields agreeing", receipt(taxPercentage=25)),
    (
        "Finnish 25.5 % VAT",
        receipt(taxRate=2550, totalAmountExcludingTax=119522, totalTaxAmount=30478),
    ),
    ("no unitInfo", receipt(unitInfo=None)),
    ("every quantity unit", receipt(unitInfo=unit(quantityUnit="KWH"))),
    ("eight decimals", receipt(unitInfo=unit(quantity="1.50000000"))),
    # 3 x 33.33 = 99.99 against 100.00: rounding, within (3 + 1) / 2 = 2 minor units.
    (
        "rounded unit price",
        receipt(
            totalAmount=10000,
            totalAmountExcludingTax=8000,
            totalTaxAmount=2000,
            unitInfo=unit(unitPrice=3333, quantity="3"),
        ),
    ),
    # The Order Management example: 3 x 25.00 - 25.00 discount = 50.00.
    (
        "a discount",
        receipt(
            totalAmount=5000,
            totalAmountExcludingTax=4000,
            totalTaxAmount=1000,
            discount=2500,
            unitInfo=unit(unitPrice=2500, quantity="3"),
        ),
    ),
    (
        "a full bottom line",
        {
            **receipt(),
            "bottomLine": {
                "currency": "NOK",
                "tipAmount": 0,
                "posId": "till-1",
                "receiptNumber": "10023",
                "paymentSources": {"card": 150000},
                "barcode": {"format": "CODE 128", "data": "10023"},
            },
        },
    ),
]


@pytest.mark.parametrize(("case", "body"), GOOD, ids=[g[0] for g in GOOD])
async def test_good_receipts_are_accepted(api: Api, case: str, body: dict[str, Any]) -> None:
    response = await _create(api, body)
    assert response.status_code == 201, response.text


LINE = "receipt.orderLines[0]"
QUANTITY = "unitInfo.quantity"
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("quantity over 10 characters", receipt(unitInfo=unit(quantity="1234567.125")), QUANTITY),
    ("quantity with a comma", receipt(unitInfo=unit(quantity="1,5")), QUANTITY),
    ("quantity with 9 decimals", receipt(unitInfo=unit(quantity="1.500000000")), QUANTITY),
    ("quantity as a number", receipt(unitInfo=unit(quantity=1.5)), QUANTITY),
    ("negative quantity", receipt(unitInfo=unit(quantity="-1.5")), QUANTITY),
    ("unitInfo without quantity", receipt(unitInfo=unit(quantity=None)), QUANTITY),
    (
        "unknown quantity unit",
        receipt(unitInfo=unit(quantityUnit="HOUR")),
        "unitInfo.quantityUnit",
    ),
    ("unitInfo without unitPrice", receipt(unitInfo=unit(unitPrice=None)), "unitInfo.unitPrice"),
    ("negative unit price", receipt(unitInfo=unit(unitPrice=-1)), "unitInfo.unitPrice"),
    ("negative discount", receipt(discount=-100), "discount"),
    ("no tax rate at all", receipt(taxRate=None), "taxRate"),
    ("taxRate over 100 %", receipt(taxRate=10001), "taxRate"),
    ("taxPercentage over 100", receipt(taxRate=None, taxPercentage=101), "taxPercentage"),
    ("taxPercentage as a fraction", receipt(taxRate=None, taxPercentage=25.5), "taxPercentage"),
    ("tax fields disagreeing", receipt(taxPercentage=24), "taxPercentage"),
    ("totals not adding up", receipt(totalTaxAmount=30001), "totalAmount"),
    # The net price per unit where the price including tax belongs: 1.5 x 800.00 = 1200.00.
    ("net unit price", receipt(unitInfo=unit(unitPrice=80000)), "unitInfo.unitPrice"),
    # 3 x 33.33 = 99.99 against 100.02: 3 minor units off, more than (3 + 1) / 2.
    (
        "unit price beyond rounding",
        receipt(
            totalAmount=10002,
            totalAmountExcludingTax=8002,
            totalTaxAmount=2000,
            unitInfo=unit(unitPrice=3333, quantity="3"),
        ),
        "unitInfo.unitPrice",
    ),
    ("line without name", receipt(name=None), "name"),
    ("float line total", receipt(totalAmount=1500.0), "totalAmount"),
    ("unknown line field", receipt(vatCode="25"), "vatCode"),
    ("unknown unitInfo field", receipt(unitInfo=unit(unit="h")), "unitInfo.unit"),
]


@pytest.mark.parametrize(("case", "body", "field"), BAD, ids=[b[0] for b in BAD])
async def test_broken_receipt_lines_name_the_field(
    api: Api, case: str, body: dict[str, Any], field: str
) -> None:
    assert _fields(await _create(api, body)) == [f"{LINE}.{field}"]


BOTTOM: list[tuple[str, dict[str, Any], str]] = [
    ("barcode format", {"barcode": {"format": "QR", "data": "1"}}, "barcode.format"),
    ("barcode without data", {"barcode": {"format": "EAN-13"}}, "barcode.data"),
    ("negative tip", {"tipAmount": -1}, "tipAmount"),
    ("unknown payment source", {"paymentSources": {"crypto": 1}}, "paymentSources.crypto"),
    ("unknown currency", {"currency": "SEK"}, "currency"),
    ("unknown field", {"vat": 1}, "vat"),
]


@pytest.mark.parametrize(("case", "bottom", "field"), BOTTOM, ids=[b[0] for b in BOTTOM])
async def test_broken_bottom_lines_name_the_field(
    api: Api, case: str, bottom: dict[str, Any], field: str
) -> None:
    body = {**receipt(), "bottomLine": {"currency": "NOK", **bottom}}
    assert _fields(await _create(api, body)) == [f"receipt.bottomLine.{field}"]


async def test_every_broken_field_is_named_at_once(api: Api) -> None:
    body = receipt(discount=-1, unitInfo=unit(quantity="1234567.125", quantityUnit="BOX"))
    body["orderLines"].append({**HOURS, "id": ""})
    assert _fields(await _create(api, body)) == [
        f"{LINE}.discount",
        f"{LINE}.unitInfo.quantity",
        f"{LINE}.unitInfo.quantityUnit",
        "receipt.orderLines[1].id",
    ]


async def test_the_refusal_explains_the_unit_price_rule(api: Api) -> None:
    response = await _create(api, receipt(unitInfo=unit(unitPrice=80000)))
    reason = response.json()["extraDetails"][0]["reason"]
    assert "80000 * 1.5 - 0 = 120000" in reason and "150000" in reason
    assert "including tax" in reason


async def test_a_long_living_payment_with_a_broken_receipt_is_refused(api: Api) -> None:
    expires = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = receipt(unitInfo=unit(unitPrice=80000))
    response = await _create(api, body, expiresAt=expires)
    assert _fields(response) == [f"{LINE}.unitInfo.unitPrice"]


# --- customerInteraction and industryData ----------------------------------------------------


@pytest.mark.parametrize("value", ["CUSTOMER_PRESENT", "CUSTOMER_NOT_PRESENT"])
async def test_customer_interaction_values(api: Api, value: str) -> None:
    assert (await api.create(customerInteraction=value)).status_code == 201


async def test_unknown_customer_interaction_is_refused(api: Api) -> None:
    assert _fields(await api.create(customerInteraction="IN_STORE")) == ["customerInteraction"]


AIRLINE = {
    "agencyInvoiceNumber": "123456",
    "airlineCode": "074",
    "airlineDesignatorCode": "KL",
    "passengerName": "FLYER / MARY MS.",
}


async def test_airline_data_with_its_four_fields_is_accepted(api: Api) -> None:
    data = {"airlineData": {**AIRLINE, "ticketNumber": "123-1234567890"}}
    assert (await api.create(industryData=data)).status_code == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"passengerName": None}, "passengerName"),
        ({"airlineCode": "74"}, "airlineCode"),
        ({"agencyInvoiceNumber": "1234567"}, "agencyInvoiceNumber"),
        ({"ticketNumber": ""}, "ticketNumber"),
        ({"seat": "12A"}, "seat"),
    ],
)
async def test_broken_airline_data_names_the_field(
    api: Api, change: dict[str, Any], field: str
) -> None:
    airline = {k: v for k, v in {**AIRLINE, **change}.items() if v is not None}
    response = await api.create(industryData={"airlineData": airline})
    assert _fields(response) == [f"industryData.airlineData.{field}"]


async def test_unknown_industry_data_is_refused(api: Api) -> None:
    response = await api.create(industryData={"hotelData": {}})
    assert _fields(response) == ["industryData.hotelData"]


# --- Vipps-System-* headers ------------------------------------------------------------------

SYSTEM_HEADERS = (
    "Vipps-System-Name",
    "Vipps-System-Version",
    "Vipps-System-Plugin-Name",
    "Vipps-System-Plugin-Version",
)


@pytest.mark.parametrize("header", SYSTEM_HEADERS)
async def test_system_headers_are_at_most_30_characters(api: Api, header: str) -> None:
    path, body = "/epayment/v1/payments", {"reference": new_reference()}
    fine = await api.http.get(
        f"{path}/{new_reference()}", headers={**api.headers(), header: "x" * 30}
    )
    assert fine.status_code == 404  # the header passed; the payment does not exist
    long = {**api.headers("k-1"), header: "x" * 31}
    refused = await api.http.post(path, json=body, headers=long)
    assert _fields(refused) == [header]
    webhooks = await api.http.get(
        "/webhooks/v1/webhooks", headers={**api.headers(), header: "x" * 31}
    )
    assert webhooks.status_code == 400
    assert webhooks.json()["extraDetails"][0]["name"] == header


async def test_payrequest_style_system_headers_pass(api: Api) -> None:
    headers = {
        **api.headers("k-2"),
        "Vipps-System-Name": "payrequest",
        "Vipps-System-Version": "0.9.0",
        "Vipps-System-Plugin-Name": "payrequest",
        "Vipps-System-Plugin-Version": "0.9.0",
    }
    body = {**create_body(new_reference()), "receipt": RECEIPT}
    response = await api.http.post("/epayment/v1/payments", json=body, headers=headers)
    assert response.status_code == 201, response.text
