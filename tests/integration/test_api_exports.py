"""`GET /api/v1/exports/payments.csv` with an API key (in-process, SQLite and PostgreSQL): the
same journal as the admin's download, only the key's organisation's, a read key is enough;
bad dates are a problem detail naming the field."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.db.scope import ALL, acting_for
from payrequest.kit.money import Money
from payrequest.ledger import manual
from payrequest.ledger.manual import NewManualPayment
from payrequest.organisations import service as organisations
from payrequest.payment_requests.repository import invoices_in_active_requests
from tests.factories import make_customer, make_invoice
from tests.integration.api_helpers import api_app, client_of, make_key

Sessions = async_sessionmaker[AsyncSession]


async def _paid_by_hand(session: AsyncSession, name: str, amount: int) -> None:
    customer = await make_customer(session, name=name)
    invoice = await make_invoice(session, customer, amount=amount)
    await manual.record(
        session,
        data=NewManualPayment(
            customer_id=customer.id,
            amount=Money(amount, "NOK"),
            received_on=manual.business_today(),
            method="bank_transfer",
            invoice_ids=(invoice.id,),
        ),
        in_requests=invoices_in_active_requests,
    )


async def test_a_key_exports_its_organisations_payments(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    async with sessions() as session, session.begin():
        await _paid_by_hand(session, "Fjord Rør AS", 125_000)
    with acting_for(ALL):
        async with sessions() as session, session.begin():
            other = await organisations.create(
                session, organisations.NewOrganisation(name="Bager Hansen ApS", slug="hansen")
            )
    with acting_for(other.id):
        async with sessions() as session, session.begin():
            await _paid_by_hand(session, "Bager Hansens kunde", 99_900)
    key = await make_key(sessions, scope="read")
    today = manual.business_today().isoformat()

    async with api_app(database_url, tmp_path) as app, client_of(app, key) as api:
        exported = await api.get("/exports/payments.csv", params={"from": today, "to": today})
        backwards = await api.get(
            "/exports/payments.csv", params={"from": today, "to": "2000-01-01"}
        )
        nameless = await api.get("/exports/payments.csv", params={"from": "i dag", "to": today})
        async with client_of(app) as anonymous:
            refused = await anonymous.get(
                "/exports/payments.csv", params={"from": today, "to": today}
            )

    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert exported.headers["content-disposition"] == (
        f'attachment; filename="payments-{today}-{today}.csv"'
    )
    assert "ratelimit-remaining" in exported.headers
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["type"], r["customer_name"], r["amount"], r["currency"]) for r in rows] == [
        ("manual_payment", "Fjord Rør AS", "1250.00", "NOK")
    ]
    assert backwards.status_code == 422
    assert backwards.headers["content-type"] == "application/problem+json"
    assert (backwards.json()["code"], backwards.json()["field"]) == ("period_backwards", "to")
    assert nameless.status_code == 422 and nameless.json()["field"] == "from"
    assert refused.status_code == 401
