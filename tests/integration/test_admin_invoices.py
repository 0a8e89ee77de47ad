"""The staff Invoices pages over HTTP against the real app, on SQLite and PostgreSQL: list with
filters, detail with lines and payment history, create and edit by hand, void, and refusals."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.app import create_app
from payrequest.config import load_settings
from payrequest.customers.models import Customer
from payrequest.invoices.models import Invoice, InvoiceLine
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.ledger import service as ledger
from payrequest.ledger.models import Refund
from payrequest.payment_requests.models import PaymentRequest, PaymentRequestInvoice
from payrequest.users import service as users
from tests.factories import make_customer, make_invoice

BASE = "http://testserver"
STAFF = "staff@example.no"
READER = "reader@example.no"
PASSWORD = "correct horse"


@pytest.fixture
async def app(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> AsyncIterator[FastAPI]:
    settings = load_settings(database_url=database_url, var_dir=tmp_path, public_url=BASE)
    application = create_app(settings)
    async with sessions() as session, session.begin():
        await users.create_user(session, email=STAFF, password=PASSWORD, role="staff")
        await users.create_user(session, email=READER, password=PASSWORD, role="readonly")
    yield application
    await application.state.engine.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


async def _sign_in(
    client: httpx.AsyncClient, email: str = STAFF, language: str | None = None
) -> str:
    """Sign in (and choose the pages' language if given); returns the session's CSRF token."""
    token = _csrf((await client.get("/login")).text)
    response = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf": token}
    )
    assert response.status_code == 303
    token = _csrf((await client.get("/invoices")).text)
    if language is not None:
        await _choose_language(client, token, language)
    return token


async def _choose_language(client: httpx.AsyncClient, token: str, language: str) -> None:
    """What the language menu in the page header does (users are Norwegian by default)."""
    response = await client.post("/account/language", data={"language": language, "csrf": token})
    assert response.status_code == 303


async def _payment_request(
    session: AsyncSession,
    customer_id: int,
    invoices: list[Invoice],
    *,
    reference: str,
    status: str = "paid",
) -> PaymentRequest:
    """A request row covering `invoices`; active (pending) ones hold their invoices."""
    active = status in ("sending", "pending", "authorized")
    request = PaymentRequest(
        reference=reference,
        customer_id=customer_id,
        currency="NOK",
        amount=sum(i.total for i in invoices),
        description="test",
        origin="staff",
        status=status,
        expires_at=utcnow() + timedelta(hours=1),
        invoice_links=[
            PaymentRequestInvoice(
                invoice_id=i.id, currency="NOK", planned_amount=i.total, active=active
            )
            for i in invoices
        ],
    )
    session.add(request)
    await session.flush()
    return request


async def _pay(
    session: AsyncSession, invoice: Invoice, amount: int, reference: str
) -> PaymentRequest:
    request = await _payment_request(session, invoice.customer_id, [invoice], reference=reference)
    await ledger.allocate_payment(
        session,
        payment_request_id=request.id,
        customer_id=invoice.customer_id,
        amount=Money(amount, "NOK"),
        invoice_ids=[invoice.id],
    )
    return request


def _numbers(html: str) -> set[str]:
    """Invoice numbers linked from a list page."""
    return set(re.findall(r'<a href="/invoices/\d+">([^<]+)</a>', html))


async def _count(sessions: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count(model.id)))).scalar_one())


# --- Anonymous visitors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/invoices", "/invoices/1", "/invoices/new", "/invoices/1/edit", "/invoices/1/live"]
)
async def test_pages_refuse_anonymous_visitors(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


# --- List -----------------------------------------------------------------------------------


async def test_list_filters_search_and_customer_scope(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        bakery = await make_customer(session, name="Fjordbakeriet AS")
        cafe = await make_customer(session, name="Café Havnen ApS")
        await make_invoice(session, bakery, number="F-OPEN", due_in_days=10)
        await make_invoice(session, bakery, number="F-LATE", due_in_days=-5)
        partly = await make_invoice(session, bakery, number="F-PART", amount=50_000)
        paid = await make_invoice(session, cafe, number="C-PAID", amount=20_000, due_in_days=-3)
        void = await make_invoice(session, cafe, number="C-VOID")
        await _pay(session, partly, 10_000, "list-partly-0001")
        await _pay(session, paid, 20_000, "list-paid-00001")
        await ledger.void_invoice(session, invoice_id=void.id)
    await _sign_in(client)

    every = await client.get("/invoices")
    assert every.status_code == 200
    assert _numbers(every.text) == {"F-OPEN", "F-LATE", "F-PART", "C-PAID", "C-VOID"}
    assert f'href="/customers/{bakery.id}">Fjordbakeriet AS<' in every.text

    expected = {
        "open": {"F-OPEN", "F-LATE", "F-PART"},
        "overdue": {"F-LATE"},
        "paid": {"C-PAID"},
        "void": {"C-VOID"},
        "all": {"F-OPEN", "F-LATE", "F-PART", "C-PAID", "C-VOID"},
        "nonsense": {"F-OPEN", "F-LATE", "F-PART", "C-PAID", "C-VOID"},
    }
    for status, numbers in expected.items():
        page = await client.get("/invoices", params={"status": status})
        assert page.status_code == 200
        assert _numbers(page.text) == numbers, status

    overdue = (await client.get("/invoices", params={"status": "overdue"})).text
    assert 'data-invoice-status="open"' in overdue and "badge-overdue" in overdue
    partly_row = (await client.get("/invoices", params={"q": "f-part"})).text
    assert 'data-invoice-status="partially_paid"' in partly_row
    assert "400,00" in partly_row  # the open amount: 500,00 total minus 100,00 paid

    by_name = await client.get("/invoices", params={"q": "havnen"})
    assert _numbers(by_name.text) == {"C-PAID", "C-VOID"}
    by_number = await client.get("/invoices", params={"q": "late", "status": "open"})
    assert _numbers(by_number.text) == {"F-LATE"}
    wildcard = await client.get("/invoices", params={"q": "%"})
    assert _numbers(wildcard.text) == set()
    scoped = await client.get("/invoices", params={"customer_id": str(cafe.id)})
    assert _numbers(scoped.text) == {"C-PAID", "C-VOID"}
    assert "Café Havnen ApS" in scoped.text
    assert f"/invoices?status=open&amp;customer_id={cafe.id}" in scoped.text  # filters keep it
    scoped_paid = await client.get("/invoices", params={"customer_id": cafe.id, "status": "paid"})
    assert _numbers(scoped_paid.text) == {"C-PAID"}
    assert 'href="/invoices?status=paid">' in scoped_paid.text  # "All customers" drops it


async def test_list_pages_by_fifty_with_a_fixed_number_of_queries(
    app: FastAPI, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        for n in range(3):
            await make_invoice(session, customer, number=f"Q-{n:03d}")
    await _sign_in(client)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(app.state.engine.sync_engine, "before_cursor_execute", count)
    try:
        await client.get("/invoices")
        few = len(statements)
        async with sessions() as session, session.begin():
            for n in range(3, 55):
                await make_invoice(session, customer, number=f"Q-{n:03d}")
        statements.clear()
        first = await client.get("/invoices")
        many = len(statements)
    finally:
        event.remove(app.state.engine.sync_engine, "before_cursor_execute", count)
    assert many == few, "queries grew with the number of rows"
    assert len(_numbers(first.text)) == 50
    assert "page=2" in first.text
    second = await client.get("/invoices", params={"page": 2})
    assert len(_numbers(second.text)) == 5
    assert _numbers(first.text).isdisjoint(_numbers(second.text))


# --- Detail ---------------------------------------------------------------------------------


async def test_detail_shows_lines_totals_allocations_refunds_and_requests(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session, name="Nordlys Regnskap")
        invoice = await make_invoice(session, customer, number="D-100", amount=80_000)
        paid = await _pay(session, invoice, 30_000, "detail-paid-0001")
        refund = Refund(
            payment_request_id=paid.id,
            currency="NOK",
            amount=5_000,
            credit_amount=0,
            status="succeeded",
            idempotency_key="detail-refund-1",
            reason="Goodwill",
        )
        session.add(refund)
        await session.flush()
        await ledger.reverse_allocations(session, refund=refund)
        waiting = await _payment_request(
            session, customer.id, [invoice], reference="detail-wait-0002", status="pending"
        )
    await _sign_in(client)
    page = await client.get(f"/invoices/{invoice.id}")
    assert page.status_code == 200
    html = page.text
    assert "D-100" in html and "Nordlys Regnskap" in html
    assert "Work" in html  # the line description
    assert re.search(r'data-total="total">\s*<strong>800,00', html)
    assert re.search(r'data-total="paid">250,00', html)  # 300,00 paid, 50,00 refunded
    assert re.search(r'data-total="open">\s*<strong>550,00', html)
    assert f'href="/requests/{paid.id}">detail-paid-0001<' in html
    assert "−50,00" in html or "-50,00" in html  # the refund reversal
    assert f'href="/requests/{waiting.id}">detail-wait-0002<' in html
    assert 'data-status="paid"' in html and 'data-status="pending"' in html
    assert 'data-invoice-status="partially_paid"' in html
    assert "/void" not in html and f"/invoices/{invoice.id}/edit" not in html
    live = await client.get(f"/invoices/{invoice.id}/live")
    assert live.status_code == 200 and "<html" not in live.text and "D-100" in live.text
    assert (await client.get("/invoices/999999")).status_code == 404


async def test_detail_offers_edit_and_void_only_to_writers_of_untouched_invoices(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoice = await make_invoice(session, customer, number="E-1")
    await _sign_in(client, language="en")
    html = (await client.get(f"/invoices/{invoice.id}")).text
    assert f'action="/invoices/{invoice.id}/void"' in html
    assert f'href="/invoices/{invoice.id}/edit"' in html
    assert "Nothing has been paid" in html

    reader = httpx.AsyncClient(transport=client._transport, base_url=BASE)
    async with reader:
        await _sign_in(reader, READER)
        html = (await reader.get(f"/invoices/{invoice.id}")).text
    assert "/void" not in html and f"/invoices/{invoice.id}/edit" not in html


# --- Create ---------------------------------------------------------------------------------


def _form(token: str, customer_id: int, /, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "csrf": token,
        "customer_id": str(customer_id),
        "number": "H-2001",
        "issue_date": "2026-11-21",
        "due_date": "2026-12-05",
        "currency": "",
        "note": "By hand",
        "description": ["Consulting", "Travel", "", "", ""],
        "quantity": ["1,5", "1", "1", "1", "1"],
        "unit_price": ["1 000,00", "250", "", "", ""],
        "vat_rate": ["25", "0", "25", "25", "25"],
    }
    data.update(overrides)
    return data


async def test_new_form_suggests_number_customer_and_currency(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        danish = await make_customer(session, name="Café Havnen ApS", country="DK", phone="")
        await make_invoice(session, danish, number="2026-0041", currency="DKK")
    await _sign_in(client)
    page = await client.get("/invoices/new", params={"customer_id": danish.id})
    assert page.status_code == 200
    assert 'name="number" type="text" required maxlength="32" value="2026-0042"' in page.text
    assert '<option value="DKK" selected>' in page.text
    assert f'name="customer_id" value="{danish.id}"' in page.text
    assert page.text.count('name="description"') == 5
    anyone = await client.get("/invoices/new")
    assert f'<option value="{danish.id}"' in anyone.text


async def test_create_by_hand_computes_totals_and_goes_to_the_detail(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session, country="DK", phone="")
    token = await _sign_in(client, language="en")
    response = await client.post("/invoices", data=_form(token, customer.id))
    assert response.status_code == 303
    location = response.headers["location"]
    assert re.fullmatch(r"/invoices/\d+", location)
    async with sessions() as session:
        invoice = (
            await session.execute(select(Invoice).where(Invoice.number == "H-2001"))
        ).scalar_one()
        lines = list(
            (
                await session.execute(
                    select(InvoiceLine)
                    .where(InvoiceLine.invoice_id == invoice.id)
                    .order_by(InvoiceLine.position)
                )
            ).scalars()
        )
    assert location == f"/invoices/{invoice.id}"
    # 1,5 x 1 000,00 = 1 500,00 + 25 % VAT 375,00; 250,00 at 0 %: 2 125,00 in all.
    assert invoice.total == 212_500 and invoice.currency == "DKK" and invoice.note == "By hand"
    assert [(ln.description, ln.quantity_milli, ln.unit_price, ln.vat_rate_bp) for ln in lines] == [
        ("Consulting", 1500, 100_000, 2500),
        ("Travel", 1000, 25_000, 0),
    ]
    detail = await client.get(location)
    assert "Invoice H-2001 created." in detail.text
    await _choose_language(client, token, "nb")  # amounts as a Norwegian reads them
    detail = await client.get(location)
    assert re.search(r'data-total="vat">375,00', detail.text)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"number": "TAKEN-1"}, "Invoice number TAKEN-1 already exists"),
        (
            {"unit_price": ["1 000,00", "-250", "", "", ""]},
            "Line 2: the unit price cannot be negative",
        ),
        ({"due_date": "2026-11-01"}, "The due date cannot be before the issue date"),
        (
            {"description": ["", "", ""], "unit_price": ["", "", ""]},
            "Add at least one line with a description and a unit price.",
        ),
        ({"unit_price": ["1 000,00", "abc", "", "", ""]}, "Line 2: “abc” is not an amount"),
        ({"description": ["Consulting", "", "", "", ""]}, "Line 2: enter a description"),
        ({"quantity": ["0", "1", "1", "1", "1"]}, "Line 1: Quantity must be more than zero"),
        ({"issue_date": "21.11.2026"}, "Enter the issue date as a date"),
        ({"number": "  "}, "Invoice number is required"),
        ({"customer_id": ""}, "Choose a customer."),
        ({"currency": "GBP"}, "Choose a currency."),
    ],
)
async def test_bad_input_re_renders_the_form_and_writes_nothing(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    overrides: dict[str, Any],
    message: str,
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        await make_invoice(session, customer, number="TAKEN-1")
    token = await _sign_in(client, language="en")
    before = await _count(sessions, Invoice), await _count(sessions, InvoiceLine)
    response = await client.post("/invoices", data=_form(token, customer.id, **overrides))
    assert response.status_code == 422
    assert message in response.text
    assert 'role="alert"' in response.text
    assert 'value="By hand"' in response.text  # what was typed is kept
    after = await _count(sessions, Invoice), await _count(sessions, InvoiceLine)
    assert after == before


# --- Edit -----------------------------------------------------------------------------------


async def test_edit_replaces_dates_currency_note_and_lines(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoice = await make_invoice(session, customer, number="ED-1", amount=10_000)
        await make_invoice(session, customer, number="ED-2")
    token = await _sign_in(client)
    form = await client.get(f"/invoices/{invoice.id}/edit")
    assert form.status_code == 200
    assert 'value="ED-1"' in form.text and 'value="Work"' in form.text
    assert 'value="100,00"' in form.text  # the unit price as a Norwegian types it

    taken = await client.post(f"/invoices/{invoice.id}", data=_form(token, 0, number="ED-2"))
    # In the staff member's language (nb), like every error.
    assert taken.status_code == 422 and "Fakturanummer ED-2 finnes allerede" in taken.text

    data = _form(
        token,
        0,  # the customer cannot change: the invoice's own is used
        number="ED-1B",
        currency="EUR",
        note="",
        description=["Design", "Hosting", "Domain", ""],
        quantity=["2", "12", "1", ""],
        unit_price=["500", "10,50", "99", ""],
        vat_rate=["25", "25", "0", "25"],
    )
    saved = await client.post(f"/invoices/{invoice.id}", data=data)
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/invoices/{invoice.id}"
    async with sessions() as session:
        stored = await session.get(Invoice, invoice.id)
        assert stored is not None
        lines = list(
            (
                await session.execute(
                    select(InvoiceLine)
                    .where(InvoiceLine.invoice_id == invoice.id)
                    .order_by(InvoiceLine.position)
                )
            ).scalars()
        )
    # 2 x 500 = 1000 + 250 VAT; 12 x 10,50 = 126 + 31,50 VAT; 99 at 0 %: 1 506,50.
    assert (stored.number, stored.currency, stored.note) == ("ED-1B", "EUR", None)
    assert stored.customer_id == customer.id and stored.total == 150_650
    assert [ln.description for ln in lines] == ["Design", "Hosting", "Domain"]
    assert [ln.position for ln in lines] == [1, 2, 3]


async def test_edit_and_void_are_refused_when_paid_in_part_or_in_an_active_request(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        partly = await make_invoice(session, customer, number="R-PART", amount=50_000)
        busy = await make_invoice(session, customer, number="R-BUSY", amount=40_000)
        await _pay(session, partly, 10_000, "refuse-part-0001")
        await _payment_request(
            session, customer.id, [busy], reference="refuse-busy-0002", status="pending"
        )
    token = await _sign_in(client, language="en")
    for invoice, reason, void_reason in [
        (partly, "has payments on it", "refund them before voiding"),
        (busy, "is in a payment request waiting for the customer", "Cancel that request first"),
    ]:
        form = await client.get(f"/invoices/{invoice.id}/edit")
        assert form.status_code == 303 and form.headers["location"] == f"/invoices/{invoice.id}"
        detail = await client.get(f"/invoices/{invoice.id}")
        assert reason in detail.text

        edit = await client.post(f"/invoices/{invoice.id}", data=_form(token, 0, number="X-9"))
        assert edit.status_code == 409 and reason in edit.text

        void = await client.post(f"/invoices/{invoice.id}/void", data={"csrf": token})
        assert void.status_code == 303
        detail = await client.get(f"/invoices/{invoice.id}")
        assert 'class="flash flash-error"' in detail.text and void_reason in detail.text

    async with sessions() as session:
        rows = {
            i.number: i
            for i in (await session.execute(select(Invoice).order_by(Invoice.id))).scalars()
        }
    assert set(rows) == {"R-PART", "R-BUSY"}  # neither renamed
    assert all(i.voided_at is None for i in rows.values())
    assert (rows["R-PART"].total, rows["R-BUSY"].total) == (50_000, 40_000)


async def test_currency_cannot_change_after_a_payment_request(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoice = await make_invoice(session, customer, number="CUR-1")
        await _payment_request(
            session, customer.id, [invoice], reference="currency-exp-0001", status="expired"
        )
    token = await _sign_in(client)
    refused = await client.post(
        f"/invoices/{invoice.id}", data=_form(token, 0, number="CUR-1", currency="EUR")
    )
    assert refused.status_code == 422
    assert "valutaen kan ikke endres" in refused.text
    allowed = await client.post(
        f"/invoices/{invoice.id}", data=_form(token, 0, number="CUR-1", currency="NOK")
    )
    assert allowed.status_code == 303


# --- Void -----------------------------------------------------------------------------------


async def test_void_takes_the_invoice_out_of_the_balance(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        keep = await make_invoice(session, customer, number="V-KEEP", amount=30_000)
        drop = await make_invoice(session, customer, number="V-DROP", amount=70_000)
        [before] = await ledger.balances(session, customer.id)
    assert before.open == 100_000
    token = await _sign_in(client, language="en")
    response = await client.post(f"/invoices/{drop.id}/void", data={"csrf": token})
    assert response.status_code == 303
    detail = await client.get(f"/invoices/{drop.id}")
    assert "Invoice V-DROP is void." in detail.text
    assert 'data-invoice-status="void"' in detail.text
    assert "/void" not in detail.text and f"/invoices/{drop.id}/edit" not in detail.text
    async with sessions() as session:
        [after] = await ledger.balances(session, customer.id)
    assert after.open == 30_000
    void_list = await client.get("/invoices", params={"status": "void"})
    assert _numbers(void_list.text) == {"V-DROP"}
    open_list = await client.get("/invoices", params={"status": "open"})
    assert _numbers(open_list.text) == {keep.number}
    edit = await client.post(f"/invoices/{drop.id}", data=_form(token, 0, number="V-DROP"))
    assert edit.status_code == 409 and "is void" in edit.text


# --- Who may change things ------------------------------------------------------------------


async def _posts(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, list[str]]:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoice = await make_invoice(session, customer, number="P-1")
    return invoice.id, ["/invoices", f"/invoices/{invoice.id}", f"/invoices/{invoice.id}/void"]


async def _unchanged(sessions: async_sessionmaker[AsyncSession], invoice_id: int) -> None:
    async with sessions() as session:
        invoices = list((await session.execute(select(Invoice))).scalars())
    assert [(i.id, i.number, i.voided_at) for i in invoices] == [(invoice_id, "P-1", None)]


async def test_a_readonly_user_gets_403_on_every_post(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    invoice_id, paths = await _posts(sessions)
    token = await _sign_in(client, READER, language="en")
    form = await client.get("/invoices/new")
    assert form.status_code == 200 and "Your role can only view" in form.text
    async with sessions() as session:
        customer_id = (await session.execute(select(Customer.id))).scalar_one()
    for path in paths:
        response = await client.post(path, data=_form(token, customer_id, number="P-2"))
        assert response.status_code == 403, path
    await _unchanged(sessions, invoice_id)


async def test_every_post_without_a_csrf_token_is_refused(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    invoice_id, paths = await _posts(sessions)
    token = await _sign_in(client)
    async with sessions() as session:
        customer_id = (await session.execute(select(Customer.id))).scalar_one()
    for path in paths:
        data = _form(token, customer_id, number="P-2")
        del data["csrf"]
        assert (await client.post(path, data=data)).status_code == 403, path
        data["csrf"] = "forged"
        assert (await client.post(path, data=data)).status_code == 403, path
    await _unchanged(sessions, invoice_id)
