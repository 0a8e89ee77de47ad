"""What an ERP's integration script does with one API key, over real HTTP against the live
server and its Vipps emulator: upsert a customer and two invoices by its own ids, register a
webhook endpoint, ask for the money, and, once the customer approved in the app, receive the
signed `invoice.paid` events and export the payment for the accounting."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.integration.api_helpers import API, make_key
from tests.integration.webhook_receiver import Receiver, receiving
from tests.lifecycle.conftest import Emulator, LiveServer

pytestmark = pytest.mark.usefixtures("webhook_ready")


@pytest.fixture
def live_overrides() -> dict[str, Any]:
    # The test's receiver listens on loopback; an installation lets its webhooks go there only
    # when told to (docs/webhooks.md, "Where a webhook may go").
    return {"automations": {"webhook_allow": ["127.0.0.1"]}}


def _invoice(number: str, amount: int) -> dict[str, Any]:
    return {
        "customer_external_id": "erp-cust-1001",
        "number": number,
        "reference": "12345678903",
        "currency": "NOK",
        "issue_date": "2026-11-20",
        "due_date": "2026-12-20",
        "lines": [
            {
                "description": "Consulting",
                "quantity": "2",
                "unit_price": amount // 2,
                "vat_rate_bp": 0,
            }
        ],
    }


async def _paid_events(receiver: Receiver, secret: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        events = [got.verified(secret) for got in receiver.received]
        paid = [e for e in events if e["type"] == "invoice.paid"]
        if len(paid) >= count or time.monotonic() > deadline:
            return paid
        await asyncio.sleep(0.1)


async def test_an_erp_script_upserts_asks_is_told_and_exports(
    live: LiveServer, sessions: Any, emulator: Emulator
) -> None:
    key = await make_key(sessions)
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        receiving() as receiver,
        httpx.AsyncClient(base_url=live.url + API, headers=headers, timeout=20) as http,
    ):
        customer = await http.put(
            "/customers/by-external-id/erp-cust-1001",
            json={"name": "Fjordbakeriet AS", "phone": "+4791234567", "locale": "nb"},
        )
        assert customer.status_code == 201, customer.text
        invoices = []
        for external_id, number, amount in (
            ("erp-inv-1", "10001", 30_000),
            ("erp-inv-2", "10002", 12_500),
        ):
            made = await http.put(
                f"/invoices/by-external-id/{external_id}", json=_invoice(number, amount)
            )
            assert made.status_code == 201, made.text
            invoices.append(made.json())
        again = await http.put("/invoices/by-external-id/erp-inv-1", json=_invoice("10001", 30_000))
        assert again.status_code == 200 and again.json()["id"] == invoices[0]["id"]

        endpoint = await http.post(
            "/webhook_endpoints",
            json={"url": receiver.url(), "event_types": ["invoice.paid"]},
            headers={"Idempotency-Key": "erp-endpoint-1"},
        )
        assert endpoint.status_code == 201, endpoint.text
        secret = endpoint.json()["secret"]

        asked = await http.post(
            "/payment_requests",
            json={
                "customer": customer.json()["id"],
                "invoices": [i["id"] for i in invoices],
                "phone": "+4791234567",
            },
            headers={"Idempotency-Key": "erp-request-1"},
        )
        assert asked.status_code == 201, asked.text
        request = asked.json()
        assert (request["status"], request["amount"], request["currency"]) == (
            "pending",
            42_500,
            "NOK",
        )

        await emulator.approve(request["reference"])
        paid = await _paid_events(receiver, secret, 2)
        assert sorted(e["data"]["object"]["id"] for e in paid) == sorted(i["id"] for i in invoices)
        for event in paid:
            assert event["api_version"] and event["id"].startswith("evt_")
            obj = event["data"]["object"]
            assert (obj["status"], obj["open_amount"], obj["currency"]) == ("paid", 0, "NOK")
        # Signed with the endpoint's secret: another secret does not verify.
        with pytest.raises(Exception, match=r"(?i)signature"):
            receiver.received[0].verified("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB")

        today = datetime.now(UTC).date().isoformat()
        export = await http.get("/exports/payments.csv", params={"from": today, "to": today})
        assert export.status_code == 200, export.text
        assert export.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
        assert rows, export.text
        text = export.text
        assert "10001" in text and "10002" in text and "300.00" in text and "125.00" in text
