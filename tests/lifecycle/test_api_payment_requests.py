"""A payment request made through the API, over real HTTP against the live server: sent to
the Vipps emulator at once, approved there, captured by the server's worker, and read back
through the API as paid, with the payment and where its money went."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import make_customer, make_invoice
from tests.integration.api_helpers import API, make_key
from tests.lifecycle.conftest import Emulator, LiveServer

pytestmark = pytest.mark.usefixtures("webhook_ready")
Sessions = async_sessionmaker[AsyncSession]


async def _until_paid(http: httpx.AsyncClient, request_id: str, within: float = 15) -> Any:
    deadline = time.monotonic() + within
    while True:
        shown = (await http.get(f"/payment_requests/{request_id}")).json()
        if shown["status"] == "paid" or time.monotonic() > deadline:
            return shown
        await asyncio.sleep(0.1)


async def test_a_request_made_through_the_api_is_paid_after_approval(
    live: LiveServer, sessions: Sessions, emulator: Emulator
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session, phone="+4791234567")
        first = await make_invoice(session, customer, amount=30_000)
        second = await make_invoice(session, customer, amount=12_500)
    headers = {"Authorization": f"Bearer {await make_key(sessions)}"}
    async with httpx.AsyncClient(base_url=live.url + API, headers=headers, timeout=15) as http:
        created = await http.post(
            "/payment_requests",
            json={
                "customer": f"cus_{customer.id}",
                "invoices": [f"inv_{first.id}", f"inv_{second.id}"],
                "phone": "+47 912 34 567",
            },
            headers={"Idempotency-Key": "lifecycle-api-1"},
        )
        assert created.status_code == 201, created.text
        made = created.json()
        assert (made["status"], made["flow"], made["amount"]) == ("pending", "push", 42_500)

        await emulator.approve(made["reference"])
        paid = await _until_paid(http, made["id"])
        assert (paid["status"], paid["captured_amount"]) == ("paid", 42_500)

        payment = (await http.get("/payments", params={"limit": 1})).json()["data"][0]
        assert (payment["payment_request"], payment["provider"]) == (made["id"], "vipps")
        assert sorted(a["amount"] for a in payment["allocations"]) == [12_500, 30_000]
        invoice = (await http.get(f"/invoices/inv_{first.id}")).json()
        assert (invoice["status"], invoice["open_amount"]) == ("paid", 0)
