"""Builders for the portal's HTTP tests: an app on a test database, a signed-in customer,
waiting and paid requests written as the services leave them, the pay form pressed, the error
a page shows."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.app import create_app
from payrequest.config import load_settings
from payrequest.customers.models import Customer
from payrequest.db.scope import ALL, scoped_to
from payrequest.invoices import service as invoices
from payrequest.invoices.models import Invoice
from payrequest.invoices.schemas import InvoiceInput, InvoiceLineInput
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.ledger import service as ledger
from payrequest.organisations import service as organisations
from payrequest.payment_requests.models import PaymentRequest, PaymentRequestInvoice
from payrequest.portal import service as portal
from tests.conftest import TEST_ORGANISATION
from tests.factories import make_customer
from tests.staff import csrf_of

BASE = "http://testserver"
Sessions = async_sessionmaker[AsyncSession]


@asynccontextmanager
async def portal_app(
    database_url: str, tmp_path: Path, **settings: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app (no worker, no lifespan) and an HTTP client talking to it in-process."""
    app = create_app(
        load_settings(database_url=database_url, var_dir=tmp_path, public_url=BASE, **settings)
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield app, http
    await app.state.runtime.close()


async def set_organisation(
    sessions: Sessions, organisation_id: int = TEST_ORGANISATION, **values: Any
) -> None:
    """Give an organisation settings, as its owner does in Settings → Organisation."""
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        found = await organisations.get(session, organisation_id)
        for name, value in values.items():
            setattr(found, name, value)


async def customer(
    sessions: Sessions,
    name: str = "Kari Nordmann",
    phone: str = "+4791234567",
    *,
    locale: str = "nb",
    portal_access: bool = True,
) -> Customer:
    async with sessions() as session, session.begin():
        made = await make_customer(session, name=name, phone=phone)
        made.portal_access = portal_access
        made.locale = locale
        return made


async def open_link(http: httpx.AsyncClient, token: str) -> httpx.Response:
    """Open a magic link as a customer does: the page it shows, then its button pressed."""
    page = await http.get(f"/portal/link/{token}")
    assert page.status_code == 200, page.status_code
    return await http.post(f"/portal/link/{token}", data={"csrf": csrf_of(page.text)})


async def sign_in(http: httpx.AsyncClient, sessions: Sessions, customer_id: int) -> None:
    async with sessions() as session, session.begin():
        token = (await portal.issue_link(session, customer_id=customer_id, channel="sms")).token
    assert (await open_link(http, token)).status_code == 303


async def submit_pay(
    http: httpx.AsyncClient, form: str, invoice_ids: list[int], **fields: str
) -> httpx.Response:
    """Press Pay on the pay form as shown (`form`, the page: its CSRF token) for these invoices,
    with the other fields filled in (`method`, `phone`, `amount`, ...)."""
    data = {"csrf": csrf_of(form), "invoice_ids": [str(i) for i in invoice_ids], **fields}
    return await http.post("/portal/pay", data=data)


def alert(html: str) -> str:
    """The error a portal page shows its reader."""
    match = re.search(r'<p class="error" role="alert">(.*?)</p>', html, re.S)
    assert match, "no error shown"
    return match.group(1).strip()


async def invoice_with_vat(
    sessions: Sessions, customer: Customer, *, number: str, due: date | None = None
) -> Invoice:
    """Two lines: 800.00 + 25 % VAT (1 000.00) and 100.00 + 15 % VAT (115.00): 1 115.00."""
    today = utcnow().date()
    async with sessions() as session, session.begin():
        return await invoices.create_invoice(
            session,
            data=InvoiceInput(
                number=number,
                customer_id=customer.id,
                issue_date=today - timedelta(days=10),
                due_date=due or today + timedelta(days=4),
                currency="NOK",
                lines=[
                    InvoiceLineInput(description="Consulting", unit_price=80_000, vat_rate_bp=2500),
                    InvoiceLineInput(description="Lunch", unit_price=10_000, vat_rate_bp=1500),
                ],
            ),
        )


async def waiting_request(
    sessions: Sessions, customer: Customer, invoices: list[Invoice], *, reference: str
) -> PaymentRequest:
    """A request waiting for the customer, holding these invoices (as create_request does)."""
    async with sessions() as session, session.begin():
        request = PaymentRequest(
            reference=reference,
            customer_id=customer.id,
            currency="NOK",
            amount=sum(i.total for i in invoices),
            phone=customer.phone,
            description="Waiting",
            origin="staff",
            status="pending",
            expires_at=utcnow() + timedelta(hours=3),
            invoice_links=[
                PaymentRequestInvoice(invoice_id=i.id, currency="NOK", planned_amount=i.total)
                for i in invoices
            ],
        )
        session.add(request)
        return request


async def paid_request(
    sessions: Sessions, customer: Customer, invoices: list[Invoice], *, amount: int, reference: str
) -> PaymentRequest:
    """A captured payment of `amount`, allocated oldest due first (any excess is credit)."""
    async with sessions() as session, session.begin():
        request = PaymentRequest(
            reference=reference,
            customer_id=customer.id,
            currency="NOK",
            amount=amount,
            description="Paid",
            origin="portal",
            status="paid",
            captured_amount=amount,
            expires_at=utcnow() + timedelta(hours=1),
            finished_at=utcnow(),
        )
        session.add(request)
        await session.flush()
        await ledger.allocate_payment(
            session,
            payment_request_id=request.id,
            customer_id=customer.id,
            amount=Money(amount, "NOK"),
            invoice_ids=[i.id for i in invoices],
        )
        return request
