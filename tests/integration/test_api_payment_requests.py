"""`/api/v1/payment_requests` and `/api/v1/payments` in-process on both databases, with the fake
provider as the organisation's own: create and send, list and get, cancel (and the provider
asking us to wait), retry, refund, the captured payment with its allocations and refunds, and
what a read key, bad input and a repeated Idempotency-Key get."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.app import create_app
from payrequest.config import load_settings
from payrequest.invoices import repository as invoices
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.ledger import manual
from payrequest.payment_requests import repository, workflows
from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.repository import invoices_in_active_requests
from payrequest.providers.fake.provider import FakeProvider
from payrequest.runtime import Runtime, build_runtime
from tests.factories import TODAY, make_customer, make_invoice
from tests.integration.api_helpers import client_of, make_key
from tests.staff import BASE

Sessions = async_sessionmaker[AsyncSession]


@dataclass
class Api:
    http: httpx.AsyncClient
    runtime: Runtime
    fake: FakeProvider
    sessions: Sessions


@pytest.fixture
async def api(database_url: str, tmp_path: Path, sessions: Sessions) -> AsyncIterator[Api]:
    fake = FakeProvider()
    settings = load_settings(database_url=database_url, var_dir=tmp_path, public_url=BASE)
    runtime = build_runtime(settings, provider=fake)
    app = create_app(settings, runtime=runtime, run_worker=False)
    async with client_of(app, await make_key(sessions)) as http:
        yield Api(http, runtime, fake, sessions)
    await runtime.close()


async def _invoices(sessions: Sessions, *amounts: int) -> tuple[str, list[str]]:
    """A customer with invoices of `amounts`: their public ids."""
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        made = [await make_invoice(session, customer, amount=a) for a in amounts]
    return f"cus_{customer.id}", [f"inv_{i.id}" for i in made]


async def _created(api: Api, **body: Any) -> dict[str, Any]:
    response = await api.http.post("/payment_requests", json=body)
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


async def _paid(api: Api, request: dict[str, Any]) -> None:
    """The payer approves at the provider; we hear of it and capture."""
    api.fake.approve(request["reference"])
    reference = request["reference"]
    await workflows.poll(api.runtime.sessions, api.runtime.providers, reference=reference)
    await workflows.capture(api.runtime.sessions, api.runtime.providers, reference=reference)


async def test_create_and_send_then_get_and_list(api: Api) -> None:
    customer, invoices = await _invoices(api.sessions, 30_000, 20_000)
    made = await _created(api, customer=customer, invoices=invoices, flow="qr")
    assert (made["object"], made["status"], made["provider"], made["flow"]) == (
        "payment_request",
        "pending",
        "fake",
        "qr",
    )
    assert (made["amount"], made["currency"], made["customer"]) == (50_000, "NOK", customer)
    assert sorted(i["invoice"] for i in made["invoices"]) == sorted(invoices)
    assert made["payment_url"].startswith("https://fake-provider.invalid/")
    assert api.fake.calls.count("create") == 1

    got = await api.http.get(f"/payment_requests/{made['id']}")
    assert got.status_code == 200 and got.json() == made
    async with api.sessions() as session:
        stored = await repository.by_reference(session, made["reference"])
    assert stored is not None and stored.origin == "api"

    other, [third] = await _invoices(api.sessions, 10_000)
    part = await _created(api, customer=other, invoices=[third], amount=4_000, phone="91234567")
    assert (part["amount"], part["flow"], part["payment_url"]) == (4_000, "push", None)

    page = (await api.http.get("/payment_requests", params={"limit": 1})).json()
    assert [r["id"] for r in page["data"]] == [part["id"]] and page["has_more"]
    rest = await api.http.get("/payment_requests", params={"starting_after": part["id"]})
    assert [r["id"] for r in rest.json()["data"]] == [made["id"]]
    theirs = await api.http.get("/payment_requests", params={"customer": customer})
    assert [r["id"] for r in theirs.json()["data"]] == [made["id"]]
    none = await api.http.get("/payment_requests", params={"status": "paid"})
    assert none.json() == {"object": "list", "data": [], "has_more": False}


async def _count(sessions: Sessions) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count(PaymentRequest.id)))).scalar_one())


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"invoices": ["inv_999999"]}, 404, "not_found", None),
        ({"invoices": ["cus_1"]}, 404, "not_found", "invoices"),
        ({"customer": "inv_1"}, 404, "not_found", "customer"),
        ({"flow": "push"}, 422, "validation_failed", "phone"),
        ({"amount": 0}, 422, "invalid_request", "amount"),
        ({"provider": "paypal"}, 422, "validation_failed", "provider"),
        ({"expiry_minutes": 5}, 422, "invalid_request", "expiry_minutes"),
        ({"invoices": []}, 422, "invalid_request", "invoices"),
        ({"colour": "red"}, 422, "invalid_request", "colour"),
    ],
)
async def test_bad_input_is_a_problem_and_writes_nothing(
    api: Api, change: dict[str, Any], status: int, code: str, field: str | None
) -> None:
    customer, invoices = await _invoices(api.sessions, 10_000)
    body = {"customer": customer, "invoices": invoices, **change}
    response = await api.http.post("/payment_requests", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["code"], problem["field"]) == (code, field)
    assert await _count(api.sessions) == 0
    assert "create" not in api.fake.calls


async def test_another_customers_invoice_and_a_busy_one_are_refused(api: Api) -> None:
    customer, [mine] = await _invoices(api.sessions, 10_000)
    _other, [theirs] = await _invoices(api.sessions, 10_000)
    mixed = await api.http.post(
        "/payment_requests", json={"customer": customer, "invoices": [mine, theirs]}
    )
    assert mixed.status_code == 422
    await _created(api, customer=customer, invoices=[mine])
    again = await api.http.post(
        "/payment_requests", json={"customer": customer, "invoices": [mine]}
    )
    assert again.status_code == 409 and again.json()["code"] == "invoice_busy"


async def test_a_read_key_may_not_send(api: Api, sessions: Sessions) -> None:
    customer, invoices = await _invoices(sessions, 10_000)
    api.http.headers["Authorization"] = f"Bearer {await make_key(sessions, scope='read')}"
    refused = await api.http.post(
        "/payment_requests", json={"customer": customer, "invoices": invoices}
    )
    assert refused.status_code == 403
    assert (await api.http.get("/payment_requests")).status_code == 200
    assert await _count(sessions) == 0


async def test_cancel_waits_when_the_provider_asks_then_cancels_then_retry(api: Api) -> None:
    customer, invoices = await _invoices(api.sessions, 10_000)
    made = await _created(api, customer=customer, invoices=invoices, flow="qr")
    cancel = f"/payment_requests/{made['id']}/cancel"

    api.fake.fail_next("rate_limited", operation="cancel", retry_after=timedelta(seconds=7))
    busy = await api.http.post(cancel)
    assert busy.status_code == 503 and busy.headers["retry-after"] == "7"
    assert busy.json()["code"] == "provider_busy"
    api.fake.fail_next("server_error", operation="cancel")
    failed = await api.http.post(cancel)
    assert failed.status_code == 502 and failed.json()["code"] == "provider_error"
    still = await api.http.get(f"/payment_requests/{made['id']}")
    assert still.json()["status"] == "pending"  # nothing changed

    cancelled = await api.http.post(cancel)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    twice = await api.http.post(cancel)
    assert twice.status_code == 409

    retried = await api.http.post(
        f"/payment_requests/{made['id']}/retry", json={"flow": "push", "phone": "91234567"}
    )
    assert retried.status_code == 201, retried.text
    new = retried.json()
    assert (new["retry_of"], new["status"], new["flow"]) == (made["id"], "pending", "push")
    assert new["reference"] != made["reference"]
    older = await api.http.post(f"/payment_requests/{made['id']}/retry")
    assert older.status_code == 409 and older.json()["code"] == "not_newest_attempt"


async def test_refunds_and_the_captured_payment_with_its_allocations_and_refunds(api: Api) -> None:
    customer, invoices = await _invoices(api.sessions, 30_000, 20_000)
    made = await _created(api, customer=customer, invoices=invoices, flow="qr")
    pay = "pay_" + made["id"].removeprefix("pr_")  # the money it captures (docs/api.md, Ids)
    early = await api.http.post(f"/payment_requests/{made['id']}/refunds", json={})
    assert early.status_code == 409  # not paid yet
    assert (await api.http.get(f"/payments/{pay}")).status_code == 404
    await _paid(api, made)

    part = await api.http.post(
        f"/payment_requests/{made['id']}/refunds", json={"amount": 5_000, "reason": "Damaged"}
    )
    assert part.status_code == 201, part.text
    refund = part.json()
    assert (refund["object"], refund["amount"], refund["status"]) == ("refund", 5_000, "succeeded")
    assert refund["payment"] == pay and refund["reason"] == "Damaged"
    too_much = await api.http.post(
        f"/payment_requests/{made['id']}/refunds", json={"amount": 50_000}
    )
    assert too_much.status_code == 422 and too_much.json()["field"] == "amount"

    payment = (await api.http.get(f"/payments/{pay}")).json()
    assert (payment["id"], payment["source"], payment["amount"]) == (pay, "provider", 50_000)
    assert (payment["refunded_amount"], payment["payment_request"]) == (5_000, made["id"])
    assert [r["id"] for r in payment["refunds"]] == [refund["id"]]
    placed = [a for a in payment["allocations"] if not a["reversal"]]
    taken = [a for a in payment["allocations"] if a["reversal"]]
    assert sorted(a["amount"] for a in placed) == [20_000, 30_000]
    assert [(a["amount"], a["refund"]) for a in taken] == [(-5_000, refund["id"])]
    request = (await api.http.get(f"/payment_requests/{made['id']}")).json()
    assert (request["status"], request["captured_amount"]) == ("paid", 50_000)

    listed = (await api.http.get("/payments")).json()
    assert [p["id"] for p in listed["data"]] == [payment["id"]]
    assert listed["data"][0] == payment
    soon = (utcnow() + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    before = (utcnow() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    later = await api.http.get("/payments", params={"created_gte": soon})
    assert later.json()["data"] == []
    within = await api.http.get("/payments", params={"created_gte": before, "created_lt": soon})
    assert [p["id"] for p in within.json()["data"]] == [payment["id"]]
    naive = await api.http.get("/payments", params={"created_gte": "2026-12-01T00:00:00"})
    assert naive.status_code == 422 and naive.json()["field"] == "created_gte"


async def test_a_payment_staff_recorded_is_found_by_its_id(api: Api) -> None:
    _customer, [invoice] = await _invoices(api.sessions, 10_000)
    async with api.sessions() as session, session.begin():
        [row] = await invoices.many(session, [int(invoice.removeprefix("inv_"))])
        recorded = await manual.record(
            session,
            data=manual.NewManualPayment(
                row.customer_id, Money(10_000, "NOK"), TODAY, "bank_transfer"
            ),
            in_requests=invoices_in_active_requests,
        )
    found = await api.http.get(f"/payments/mpay_{recorded.payment.id}")
    assert found.status_code == 200, found.text
    shown = found.json()
    assert (shown["source"], shown["amount"], shown["refunds"]) == ("manual", 10_000, [])
    assert [a["invoice"] for a in shown["allocations"]] == [invoice]
    assert (await api.http.get("/payments")).json()["data"] == []  # captured ones only
    assert (await api.http.get(f"/payments/pay_{recorded.payment.id}")).status_code == 404


async def test_the_same_idempotency_key_sends_once(api: Api) -> None:
    customer, invoices = await _invoices(api.sessions, 10_000)
    body = {"customer": customer, "invoices": invoices, "flow": "qr"}
    headers = {"Idempotency-Key": "send-once-1"}
    first = await api.http.post("/payment_requests", json=body, headers=headers)
    again = await api.http.post("/payment_requests", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers.get("idempotent-replayed") == "true"
    other = await api.http.post("/payment_requests", json={**body, "flow": "push"}, headers=headers)
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert await _count(api.sessions) == 1 and api.fake.calls.count("create") == 1
