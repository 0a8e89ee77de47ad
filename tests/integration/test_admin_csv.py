"""CSV over HTTP (the real app in-process, SQLite and PostgreSQL): the payments export is
downloaded from the payment requests page by owners and staff (read-only staff may not), bad
dates come back to the form in the reader's language."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.kit.money import Money
from payrequest.ledger import manual
from payrequest.ledger.manual import NewManualPayment
from payrequest.payment_requests.repository import invoices_in_active_requests
from tests.factories import make_customer, make_invoice
from tests.staff import app_client, create_staff, sign_in

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def client(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    await create_staff(sessions)
    async with app_client(database_url, tmp_path, run_worker=False) as http:
        yield http


def _flashes(page: str) -> list[str]:
    return [
        html.unescape(re.sub(r"<[^>]+>", "", text)).strip()
        for text in re.findall(r'<p class="flash[^"]*"[^>]*>(.*?)</p>', page, re.S)
    ]


async def test_owners_and_staff_download_the_payments_of_a_period(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    today = manual.business_today()
    async with sessions() as session, session.begin():
        customer = await make_customer(session, name="Åse Ærlig")
        invoice = await make_invoice(session, customer, amount=12_345, number="E-1")
        await manual.record(
            session,
            data=NewManualPayment(
                customer_id=customer.id,
                amount=Money(12_345, "NOK"),
                received_on=today,
                method="bank_transfer",
                invoice_ids=(invoice.id,),
            ),
            in_requests=invoices_in_active_requests,
        )
    await sign_in(client, "staff")
    page = await client.get("/requests")
    assert 'action="/exports/payments.csv"' in page.text
    assert f'value="{today.replace(day=1).isoformat()}"' in page.text

    period = {"from": today.isoformat(), "to": today.isoformat()}
    response = await client.get("/exports/payments.csv", params=period)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="payments-{today.isoformat()}-{today.isoformat()}.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    assert [
        (r["type"], r["customer_name"], r["invoice_number"], r["amount"], r["currency"])
        for r in rows
    ] == [("manual_payment", "Åse Ærlig", "E-1", "123.45", "NOK")]


async def test_bad_dates_come_back_to_the_form_and_read_only_staff_may_not(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    await sign_in(client, "owner")
    backwards = await client.get(
        "/exports/payments.csv", params={"from": "2027-02-01", "to": "2027-01-01"}
    )
    assert backwards.status_code == 303 and backwards.headers["location"] == "/requests#export"
    assert _flashes((await client.get("/requests")).text) == ["The period ends before it starts"]
    nonsense = await client.get("/exports/payments.csv", params={"from": "i går", "to": ""})
    assert nonsense.status_code == 303
    assert _flashes((await client.get("/requests")).text) == ["“i går” is not a date (YYYY-MM-DD)"]
    await client.post("/logout", data={"csrf": ""})

    client.cookies.clear()
    await sign_in(client, "readonly")
    assert 'action="/exports/payments.csv"' not in (await client.get("/requests")).text
    refused = await client.get(
        "/exports/payments.csv", params={"from": "2027-01-01", "to": "2027-01-31"}
    )
    assert refused.status_code == 403
