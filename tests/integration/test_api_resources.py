"""The API's resources over HTTP in-process, on SQLite and PostgreSQL: customers and invoices
(create, get, change, upsert by external id, void), cursor pages, events in their envelope,
customer credit, and errors as problem details naming the field at fault."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.audit.models import AuditEntry
from payrequest.events.models import OutboxEvent
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.ledger import service as ledger
from payrequest.payment_requests.models import PaymentRequest
from payrequest.public.event import API_VERSION
from payrequest.public.ids import row_id
from tests.integration.api_helpers import api_app, client_of, make_key

Sessions = async_sessionmaker[AsyncSession]
LINE = {"description": "Consulting", "quantity": "1.5", "unit_price": 100_000}
TIMESTAMP = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"


@pytest.fixture
async def client(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    key = await make_key(sessions)
    async with api_app(database_url, tmp_path) as app, client_of(app, key) as http:
        yield http


def _problem(response: httpx.Response, status: int, code: str, field: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["code"], body["field"]) == (status, code, field), body
    assert set(body) == {"type", "title", "status", "detail", "code", "field"}


async def _counts(sessions: Sessions) -> tuple[int, int]:
    async with sessions() as session:
        audit = (await session.execute(select(func.count(AuditEntry.id)))).scalar_one()
        events = (await session.execute(select(func.count(OutboxEvent.id)))).scalar_one()
    return int(audit), int(events)


async def test_customers_are_made_read_changed_and_paged(client: httpx.AsyncClient) -> None:
    made = await client.post(
        "/customers",
        json={"name": "Fjord AS", "phone": "912 34 567", "organisation_number": "912345678"},
    )
    assert made.status_code == 201
    customer = made.json()
    assert (customer["object"], customer["phone"]) == ("customer", "+4791234567")
    assert customer["id"].startswith("cus_")
    assert (await client.get(f"/customers/{customer['id']}")).json() == customer
    changed = await client.patch(f"/customers/{customer['id']}", json={"email": "Post@Fjord.no"})
    assert changed.json()["email"] == "post@fjord.no" and changed.json()["name"] == "Fjord AS"
    cleared = await client.patch(f"/customers/{customer['id']}", json={"phone": None})
    assert cleared.json()["phone"] is None

    for name in ("B AS", "C AS"):
        await client.post("/customers", json={"name": name})
    first = (await client.get("/customers", params={"limit": 2})).json()
    assert first["object"] == "list" and first["has_more"] is True
    assert [c["name"] for c in first["data"]] == ["C AS", "B AS"]  # newest first
    after = {"limit": 2, "starting_after": first["data"][-1]["id"]}
    rest = (await client.get("/customers", params=after)).json()
    assert [c["name"] for c in rest["data"]] == ["Fjord AS"] and rest["has_more"] is False


async def test_an_upsert_by_external_id_again_changes_nothing(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    body = {"name": "Fjord AS", "email": "post@fjord.no"}
    created = await client.put("/customers/by-external-id/ERP/10042", json=body)
    assert created.status_code == 201 and created.json()["external_id"] == "ERP/10042"
    before = await _counts(sessions)
    again = await client.put("/customers/by-external-id/ERP/10042", json=body)
    assert again.status_code == 200 and again.json() == created.json()
    assert await _counts(sessions) == before
    found = await client.get("/customers/by-external-id/ERP/10042")
    assert found.json()["id"] == created.json()["id"]

    invoice = {"customer_external_id": "ERP/10042", "due_date": "2026-12-31", "lines": [LINE]}
    first = await client.put("/invoices/by-external-id/INV-1", json=invoice)
    assert first.status_code == 201
    shown = first.json()
    assert (shown["total"], shown["open_amount"], shown["status"]) == (187_500, 187_500, "open")
    assert shown["customer"] == created.json()["id"] and shown["lines"][0]["quantity"] == "1.5"
    assert shown["currency"] == "NOK" and shown["created"].endswith("Z")
    before = await _counts(sessions)
    same = await client.put("/invoices/by-external-id/INV-1", json=invoice)
    assert same.status_code == 200 and same.json() == shown
    assert await _counts(sessions) == before
    later = await client.put("/invoices/by-external-id/INV-1", json={"due_date": "2027-01-15"})
    assert later.status_code == 200 and later.json()["due_date"] == "2027-01-15"
    assert later.json()["lines"] == shown["lines"]


async def _paid(sessions: Sessions, invoice_id: str, customer_id: str, amount: int) -> None:
    async with sessions() as session, session.begin():
        request = PaymentRequest(
            reference="api-paid-0001",
            customer_id=row_id("customer", customer_id),
            currency="NOK",
            amount=amount,
            description="test",
            origin="api",
            expires_at=utcnow() + timedelta(hours=1),
        )
        session.add(request)
        await session.flush()
        await ledger.allocate_payment(
            session,
            payment_request_id=request.id,
            customer_id=request.customer_id,
            amount=Money(amount, "NOK"),
            invoice_ids=[row_id("invoice", invoice_id)],
        )


async def test_invoices_change_while_open_and_are_voided(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    customer = (await client.post("/customers", json={"name": "Fjord AS"})).json()
    made = await client.post(
        "/invoices",
        json={"customer": customer["id"], "due_date": "2026-12-31", "lines": [LINE]},
    )
    assert made.status_code == 201
    invoice = made.json()
    changed = await client.patch(f"/invoices/{invoice['id']}", json={"reference": "1234567890"})
    assert changed.json()["reference"] == "1234567890"
    voided = await client.post(f"/invoices/{invoice['id']}/void")
    assert voided.status_code == 200 and voided.json()["status"] == "void"
    assert voided.json()["voided"] is not None and voided.json()["open_amount"] == 0
    assert (await client.post(f"/invoices/{invoice['id']}/void")).json() == voided.json()
    late = await client.patch(f"/invoices/{invoice['id']}", json={"note": "late"})
    _problem(late, 409, "invoice_void", None)

    other = (
        await client.post(
            "/invoices",
            json={"customer": customer["id"], "due_date": "2026-12-31", "lines": [LINE]},
        )
    ).json()
    await _paid(sessions, other["id"], customer["id"], 50_000)
    partly = (await client.get(f"/invoices/{other['id']}")).json()
    assert (partly["status"], partly["amount_paid"], partly["open_amount"]) == (
        "partially_paid",
        50_000,
        137_500,
    )
    refused = await client.patch(f"/invoices/{other['id']}", json={"note": "changed"})
    _problem(refused, 409, "invoice_has_payments", None)
    _problem(await client.post(f"/invoices/{other['id']}/void"), 409, "invoice_has_payments", None)

    listed = await client.get("/invoices", params={"customer": customer["id"], "status": "void"})
    assert [i["id"] for i in listed.json()["data"]] == [invoice["id"]]
    open_ = await client.get("/invoices", params={"status": "open"})
    assert [i["id"] for i in open_.json()["data"]] == [other["id"]]


async def test_events_come_in_their_envelope_newest_first(client: httpx.AsyncClient) -> None:
    customer = (await client.post("/customers", json={"name": "Fjord AS"})).json()
    new = {"customer": customer["id"], "due_date": "2026-12-31", "lines": [LINE]}
    invoice = (await client.post("/invoices", json=new)).json()
    await client.post(f"/invoices/{invoice['id']}/void")
    page = (await client.get("/events", params={"limit": 1})).json()
    assert page["has_more"] is True
    [newest] = page["data"]
    assert (newest["type"], newest["api_version"], newest["object"]) == (
        "invoice.voided",
        API_VERSION,
        "event",
    )
    assert newest["id"].startswith("evt_") and newest["data"]["object"]["id"] == invoice["id"]
    older = (await client.get("/events", params={"starting_after": newest["id"]})).json()
    assert [e["type"] for e in older["data"]] == ["invoice.created"]
    assert (await client.get(f"/events/{newest['id']}")).json() == newest


async def test_credit_is_read_per_currency(client: httpx.AsyncClient, sessions: Sessions) -> None:
    customer = (await client.post("/customers", json={"name": "Fjord AS"})).json()
    invoice = (
        await client.post(
            "/invoices",
            json={
                "customer": customer["id"],
                "due_date": "2026-12-31",
                "lines": [{"description": "x", "unit_price": 1000, "vat_rate_bp": 0}],
            },
        )
    ).json()
    await _paid(sessions, invoice["id"], customer["id"], 1500)  # 500 more than the invoice
    credit = (await client.get(f"/customers/{customer['id']}/credit")).json()
    assert credit["object"] == "customer_credit"
    assert credit["balances"] == [{"currency": "NOK", "available": 500}]
    [one] = credit["credits"]
    assert (one["amount"], one["available"], one["payment"]) == (500, 500, one["payment"])
    assert one["payment"].startswith("pay_")


BAD_INPUT: list[tuple[str, str, dict[str, Any] | None, int, str, str | None]] = [
    ("GET", "/customers/cus_999999", None, 404, "not_found", None),
    ("GET", "/customers/inv_1", None, 404, "not_found", None),
    ("GET", "/customers/cus_99999999999", None, 404, "not_found", None),
    ("GET", "/customers?limit=0", None, 422, "invalid_request", "limit"),
    ("GET", "/customers?starting_after=inv_3", None, 404, "not_found", "starting_after"),
    ("GET", "/invoices?status=late", None, 422, "invalid_request", "status"),
    ("POST", "/customers", {}, 422, "invalid_request", "name"),
    ("POST", "/customers", {"name": "A", "colour": "red"}, 422, "invalid_request", "colour"),
    ("POST", "/customers", {"name": "A", "email": "nobody"}, 422, "validation_failed", "email"),
    ("POST", "/customers", {"name": "A\x00"}, 422, "control_character", None),
    (
        "POST",
        "/invoices",
        {"customer": "cus_424242", "due_date": "2026-12-31", "lines": [LINE]},
        404,
        "not_found",
        "customer",
    ),
    (
        "POST",
        "/invoices",
        {"customer_external_id": "nobody", "due_date": "2026-12-31", "lines": [LINE]},
        404,
        "not_found",
        "customer_external_id",
    ),
    (
        "POST",
        "/invoices",
        {"due_date": "2026-12-31", "lines": [{"description": "x", "unit_price": "many"}]},
        422,
        "invalid_request",
        "lines.0.unit_price",
    ),
    (
        "POST",
        "/invoices",
        {"due_date": "2026-12-31", "lines": [LINE]},
        422,
        "validation_failed",
        "customer",
    ),
]


async def test_bad_input_is_a_problem_naming_its_field(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    before = await _counts(sessions)
    for method, url, body, status, code, field in BAD_INPUT:
        response = await client.request(method, url, json=body)
        _problem(response, status, code, field)
    assert await _counts(sessions) == before


async def test_a_body_that_is_not_json_is_a_problem(client: httpx.AsyncClient) -> None:
    broken = await client.post(
        "/customers", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    _problem(broken, 422, "invalid_json", None)
