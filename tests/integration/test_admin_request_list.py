"""The staff's list of payment requests over HTTP: every customer's requests, newest first, with
the customer's name, narrowed by status; and one request's page with its invoices and timeline.
On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.payment_requests.state import Status
from payrequest.providers.base import Capabilities
from tests.factories import make_customer, make_invoice
from tests.staff import app_client, create_staff, sign_in

Sessions = async_sessionmaker[AsyncSession]
ROW = re.compile(r'<tr data-request="([^"]+)">.*?<a href="/customers/\d+">([^<]+)</a>', re.S)


@pytest.fixture
async def client(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    await create_staff(sessions, roles=("staff",))
    async with app_client(database_url, tmp_path, run_worker=False) as http:
        await sign_in(http, "staff")
        yield http


async def _request(sessions: Sessions, name: str, number: str, *, status: Status) -> PaymentRequest:
    async with sessions() as session, session.begin():
        customer = await make_customer(session, name=name)
        invoice = await make_invoice(session, customer, number=number)
        request = await create_request(
            session,
            data=NewPaymentRequest(
                customer_id=customer.id, invoice_ids=[invoice.id], phone="+4791234567"
            ),
            lifetime=Lifetime(60, Capabilities()),
        )
        request.status = status
        return request


def _listed(html: str) -> list[tuple[str, str]]:
    """(reference, customer name) of each row, top to bottom."""
    return [(reference, name) for reference, name in ROW.findall(html)]


async def test_the_list_shows_every_customers_requests_newest_first_and_by_status(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    first = await _request(sessions, "Fjordbakeriet AS", "L-1", status=Status.failed)
    second = await _request(sessions, "Haugen Rørlegger AS", "L-2", status=Status.pending)
    third = await _request(sessions, "Nordlys Frisør", "L-3", status=Status.failed)

    everything = await client.get("/requests")
    assert everything.status_code == 200
    assert _listed(everything.text) == [
        (third.reference, "Nordlys Frisør"),
        (second.reference, "Haugen Rørlegger AS"),
        (first.reference, "Fjordbakeriet AS"),
    ]
    failed = await client.get("/requests", params={"status_filter": "failed"})
    assert [reference for reference, _ in _listed(failed.text)] == [
        third.reference,
        first.reference,
    ]
    unknown = await client.get("/requests", params={"status_filter": "nonsense"})
    assert len(_listed(unknown.text)) == 3  # an unknown status narrows nothing
    beyond = await client.get("/requests", params={"page": 2})
    assert _listed(beyond.text) == []


async def test_a_request_page_shows_its_invoices_and_timeline(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    request = await _request(sessions, "Fjordbakeriet AS", "D-1", status=Status.sending)

    page = await client.get(f"/requests/{request.id}")

    assert page.status_code == 200
    assert "Fjordbakeriet AS" in page.text
    assert re.search(r'<a href="/invoices/\d+">D-1</a>', page.text)
    assert re.search(r'<ol class="timeline">\s*<li>', page.text)  # created: the first entry
    assert (await client.get("/requests/999999")).status_code == 404
