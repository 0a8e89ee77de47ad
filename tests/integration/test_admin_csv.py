"""CSV over HTTP (the real app in-process, SQLite and PostgreSQL): the payments export is
downloaded from the payment requests page by owners and staff (read-only staff may not), bad
dates come back to the form in the reader's language; a file uploaded for import is previewed
(its first rows as read, its bad rows in the reader's language), dry-run and imported."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.kit.money import Money
from payrequest.ledger import manual
from payrequest.ledger.manual import NewManualPayment
from payrequest.payment_requests.repository import invoices_in_active_requests
from payrequest.web.body_limits import IMPORT_LIMIT
from tests.factories import make_customer, make_invoice
from tests.staff import BASE, built_app, create_staff, csrf_of, sign_in

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def app(database_url: str, sessions: Sessions, tmp_path: Path) -> AsyncIterator[FastAPI]:
    await create_staff(sessions)
    async with built_app(database_url, tmp_path, run_worker=False) as built:
        yield built


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield http


async def _run_jobs(app: FastAPI) -> None:
    """What the app's worker would do now: run the jobs that are due (the import among them)."""
    worker = app.state.runtime.worker()
    await worker.run_once()


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


CUSTOMERS_FILE = (
    "\ufeffexternal_id;name;email;country\r\n"
    "K-1;Fjord Rør AS;post@fjord.no;NO\r\n"
    "K-2;;;NO\r\n"  # row 3: a new customer needs a name (only the dry run knows it is new)
    "K-3;Bager Hansen ApS;not an address;DK\r\n"  # row 4: the service refuses the address
)
INVOICES_FILE = (
    "external_id;number;customer_external_id;due_date;currency;description;quantity;"
    "unit_price;vat_rate\n"
    "F-1;2027-1;K-1;15.03.2027;NOK;Arbeid;1,5;1 000,00;25\n"
    "F-1;;;;;Deler;2;49,90;25\n"
    "F-2;2027-2;K-1;30.02.2027;NOK;Arbeid;1;100;25\n"
)


def _chosen_kind(page: str) -> str:
    found = re.search(r'<option value="(\w+)" selected>', page)
    return found.group(1) if found else ""


NAMES = {"customers": "kunder.csv", "invoices": "fakturaer.csv"}


async def _upload(client: httpx.AsyncClient, kind: str, text: str) -> httpx.Response:
    page = await client.get("/imports", params={"kind": kind})
    assert page.status_code == 200
    # Coming from the customer or invoice list, the form already says what the file holds.
    assert _chosen_kind(page.text) == kind
    token = csrf_of(page.text)
    return await client.post(
        "/imports",
        data={"csrf": token, "kind": kind},
        files={"file": (NAMES[kind], text.encode("utf-8"), "text/csv")},
    )


def _cells(page: str, marker: str) -> list[list[str]]:
    table = re.search(rf"<table[^>]*{marker}[^>]*>(.*?)</table>", page, re.S)
    assert table, f"no table {marker}"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.S)
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)
        ]
        for r in rows
        if "<td" in r
    ]


async def test_upload_preview_dry_run_and_import_in_the_readers_language(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await sign_in(client, "staff")
    await client.post(
        "/account/language",
        data={"csrf": csrf_of((await client.get("/imports")).text), "language": "nb"},
    )
    uploaded = await _upload(client, "invoices", INVOICES_FILE)
    assert uploaded.status_code == 303
    preview_url = uploaded.headers["location"]
    assert preview_url.startswith("/imports/")

    page = await client.get(preview_url)

    assert page.status_code == 200
    assert _cells(page.text, "data-import-preview") == [
        [
            "2",
            "F-1",
            "2027-1",
            "K-1",
            "",
            "15. mars 2027",
            "",
            "Arbeid",
            "1.5",
            "1\xa0000,00\xa0kr",
            "25\xa0%",
        ],
        [
            "3",
            "F-1",
            "2027-1",
            "K-1",
            "",
            "15. mars 2027",
            "",
            "Deler",
            "2",
            "49,90\xa0kr",
            "25\xa0%",
        ],
        ["4", "due_date: «30.02.2027» er ikke en dato (ÅÅÅÅ-MM-DD eller DD.MM.ÅÅÅÅ)"],
    ]
    assert _cells(page.text, "data-import-errors") == [
        ["4", "due_date", "due_date: «30.02.2027» er ikke en dato (ÅÅÅÅ-MM-DD eller DD.MM.ÅÅÅÅ)"]
    ]
    token = csrf_of(page.text)

    dry = await _run(app, client, preview_url, token, "dry_run")
    assert "data-import-progress" not in dry.text
    # the customer does not exist yet: only the dry run knows
    assert _cells(dry.text, "data-import-errors")[0][:2] == ["2", "customer_external_id"]
    # Both of F-1's lines are refused with it (3 rows with row 4), and its row says so.
    assert re.search(r"data-refused>3<", dry.text)
    assert _cells(dry.text, "data-import-errors")[0][2].endswith(
        "(rad 2–3: hele fakturaen utelates)"
    )
    assert "Prøvekjøring: ingenting ble lagret" in dry.text
    assert "data-import-run" in dry.text  # the file is still there: it may be imported now

    customers = await _upload(client, "customers", CUSTOMERS_FILE)
    customers_url = customers.headers["location"]
    done = await _run(app, client, customers_url, token, "import")
    assert re.search(r"data-created>1<", done.text) and re.search(r"data-refused>2<", done.text)
    assert [row[:2] for row in _cells(done.text, "data-import-errors")] == [
        ["3", "name"],
        ["4", "email"],
    ]
    assert "data-import-run" not in done.text
    assert (await client.get(customers_url)).status_code == 404  # imported: the file is gone

    imported = await _run(app, client, preview_url, token, "import")
    assert re.search(r"data-created>1<", imported.text)
    assert re.search(r"data-refused>1<", imported.text)

    # The upload form lists the runs, newest first, in the reader's language.
    listed = _cells((await client.get("/imports")).text, "data-import-runs")
    assert [(row[1], row[3], row[4]) for row in listed] == [
        ("fakturaer.csv", "Ferdig", "3"),
        ("kunder.csv", "Ferdig", "3"),
        ("fakturaer.csv", "Prøvekjøring ferdig", "3"),
    ]


async def _run(
    app: FastAPI, client: httpx.AsyncClient, preview_url: str, token: str, action: str
) -> httpx.Response:
    """Start a run from the preview, see it wait for the worker, let the worker run it, and
    return its page."""
    started = await client.post(preview_url, data={"csrf": token, "action": action})
    assert started.status_code == 303
    run_url = started.headers["location"]
    assert re.fullmatch(r"/imports/runs/\d+", run_url)
    waiting = await client.get(run_url)
    assert 'data-status="queued"' in waiting.text
    assert '<meta http-equiv="refresh" content="2">' in waiting.text  # it follows itself
    await _run_jobs(app)
    page = await client.get(run_url)
    assert page.status_code == 200 and "http-equiv" not in page.text
    return page


async def test_the_upload_is_refused_without_a_file_too_large_to_read_only_staff_and_by_token(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await sign_in(client, "owner")
    page = await client.get("/imports")
    none = await client.post("/imports", data={"csrf": csrf_of(page.text), "kind": "invoices"})
    assert none.status_code == 303 and none.headers["location"] == "/imports"
    assert _flashes((await client.get("/imports")).text) == [
        "Choose what to import and a CSV file."
    ]
    too_large = await client.post(
        "/imports",
        data={"csrf": csrf_of(page.text), "kind": "customers"},
        files={"file": ("big.csv", b"x" * (IMPORT_LIMIT + 1), "text/csv")},
    )
    assert too_large.status_code == 413
    assert not (tmp_path / "imports").exists()  # refused before anything was kept
    assert (await client.get("/imports/" + "x" * 32)).status_code == 404
    assert (await client.get("/imports/../../secret_key")).status_code == 404

    client.cookies.clear()
    await sign_in(client, "readonly")
    assert (await client.get("/imports")).status_code == 403
