"""Customers and invoices imported from CSV (docs/csv.md): either separator, with or without a
byte order mark, decimal commas, both date forms; bad rows reported by row and column in the
reader's language; a dry run writes nothing; the same file twice changes nothing the second
time; a file is read as it is imported, not first into memory. SQLite and PostgreSQL."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest import i18n
from payrequest.customers.models import Customer
from payrequest.imports.customers import CUSTOMERS
from payrequest.imports.invoices import INVOICES
from payrequest.imports.records import Kind
from payrequest.imports.report import Report
from payrequest.imports.run import Progress, run_import
from payrequest.invoices.models import Invoice, InvoiceLine
from tests.conftest import TEST_ORGANISATION

Sessions = async_sessionmaker[AsyncSession]

CUSTOMERS_SEMICOLON = (
    "\ufeffExternal ID;Name;Email;Phone;Country;Organisation number\r\n"
    "C-1;Fjord Rør AS;Post@Fjord.no;+47 912 34 567;no;987 654 321\r\n"
    '"C-2";"Bager; Hansen ApS";;;DK;\r\n'
)
CUSTOMERS_COMMA = "external_id,name,locale\nC-3,Åse Ærlig,en\n\nC-4,Ola Nordmann,nb\n"
INVOICES_TWO_LINES = (
    "external_id;number;customer_external_id;issue_date;due_date;currency;reference;"
    "description;quantity;unit_price;vat_rate\n"
    "F-1;2027-001;C-1;01.02.2027;2027-02-15;NOK;1234567890;Rørlegging;1,5;1 234,50;25\n"
    "F-1;;;;;;;Deler;2;99,90;25\n"
    "F-2;2027-002;C-2;2027-02-01;15.02.2027;DKK;;Brød;10;12,5;0\n"
)


async def _import(
    sessions: Sessions, kind: Kind, text: str, *, dry_run: bool = False, **options: Any
) -> Report:
    return await run_import(
        sessions,
        kind=kind,
        source=io.BytesIO(text.encode("utf-8")),
        organisation_id=TEST_ORGANISATION,
        dry_run=dry_run,
        **options,
    )


def _counts(report: Report) -> tuple[int, int, int, int]:
    return (report.created, report.updated, report.unchanged, report.failed_rows)


async def _count(sessions: Sessions, model: type[Any]) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


def _errors(report: Report, language: str = "en") -> list[tuple[int, str | None, str]]:
    return [(e.row, e.column, i18n.error_text(language, e.error)) for e in report.errors]


async def test_customers_with_either_separator_with_or_without_bom(sessions: Sessions) -> None:
    first = await _import(sessions, CUSTOMERS, CUSTOMERS_SEMICOLON)
    second = await _import(sessions, CUSTOMERS, CUSTOMERS_COMMA)

    assert first.ok and _counts(first) == (2, 0, 0, 0) and first.rows == 2
    assert second.ok and _counts(second) == (2, 0, 0, 0) and second.rows == 2
    async with sessions() as session:
        found = {
            c.external_id: c
            for c in (await session.execute(select(Customer).order_by(Customer.id))).scalars()
        }
    fjord, bager = found["C-1"], found["C-2"]
    assert (fjord.name, fjord.email, fjord.phone, fjord.country) == (
        "Fjord Rør AS",
        "post@fjord.no",
        "+4791234567",
        "NO",
    )
    assert fjord.organisation_number == "987 654 321"
    assert (bager.name, bager.email, bager.country) == ("Bager; Hansen ApS", None, "DK")
    assert (found["C-3"].name, found["C-3"].locale) == ("Åse Ærlig", "en")


async def test_invoices_two_lines_each_decimal_commas_and_both_date_forms(
    sessions: Sessions,
) -> None:
    await _import(sessions, CUSTOMERS, CUSTOMERS_SEMICOLON)

    report = await _import(sessions, INVOICES, INVOICES_TWO_LINES)

    assert report.ok and _counts(report) == (2, 0, 0, 0) and report.rows == 3
    async with sessions() as session:
        invoices = {
            i.external_id: i
            for i in (await session.execute(select(Invoice).order_by(Invoice.id))).scalars()
        }
        lines = (
            await session.execute(
                select(InvoiceLine.invoice_id, InvoiceLine.description, InvoiceLine.quantity_milli)
                .add_columns(InvoiceLine.unit_price, InvoiceLine.vat_rate_bp)
                .order_by(InvoiceLine.invoice_id, InvoiceLine.position)
            )
        ).all()
    plumbing = invoices["F-1"]
    assert (plumbing.number, plumbing.reference, plumbing.currency) == (
        "2027-001",
        "1234567890",
        "NOK",
    )
    assert (plumbing.issue_date.isoformat(), plumbing.due_date.isoformat()) == (
        "2027-02-01",
        "2027-02-15",
    )
    # 1.5 x 1 234.50 = 1 851.75 + 25 % = 2 314.69 (rounded half up); 2 x 99.90 = 199.80 + 49.95
    assert plumbing.total == 231_469 + 24_975
    assert [tuple(line[1:]) for line in lines if line[0] == plumbing.id] == [
        ("Rørlegging", 1500, 123_450, 2500),
        ("Deler", 2000, 9_990, 2500),
    ]
    assert (invoices["F-2"].currency, invoices["F-2"].total) == ("DKK", 12_500)


async def test_the_same_file_again_changes_nothing_and_a_changed_row_updates(
    sessions: Sessions,
) -> None:
    await _import(sessions, CUSTOMERS, CUSTOMERS_SEMICOLON)
    await _import(sessions, INVOICES, INVOICES_TWO_LINES)
    async with sessions() as session:
        before = (await session.execute(select(Invoice.id, Invoice.updated_at))).all()

    again = await _import(sessions, INVOICES, INVOICES_TWO_LINES)
    customers_again = await _import(sessions, CUSTOMERS, CUSTOMERS_SEMICOLON)

    assert _counts(again) == (0, 0, 2, 0) and _counts(customers_again) == (0, 0, 2, 0)
    async with sessions() as session:
        assert (await session.execute(select(Invoice.id, Invoice.updated_at))).all() == before
    changed = INVOICES_TWO_LINES.replace("Deler;2;99,90", "Deler;3;99,90")
    assert _counts(await _import(sessions, INVOICES, changed)) == (0, 1, 1, 0)
    assert await _count(sessions, InvoiceLine) == 3


async def test_a_dry_run_reports_what_it_would_do_and_writes_nothing(sessions: Sessions) -> None:
    dry = await _import(sessions, CUSTOMERS, CUSTOMERS_SEMICOLON, dry_run=True)
    assert dry.dry_run and dry.ok and _counts(dry) == (2, 0, 0, 0)
    assert await _count(sessions, Customer) == 0

    await _import(sessions, CUSTOMERS, CUSTOMERS_SEMICOLON)
    renamed = CUSTOMERS_SEMICOLON.replace("Fjord Rør AS", "Fjord Rør og Varme AS")
    assert _counts(await _import(sessions, CUSTOMERS, renamed, dry_run=True)) == (0, 1, 1, 0)
    invoices = await _import(sessions, INVOICES, INVOICES_TWO_LINES, dry_run=True)
    assert _counts(invoices) == (2, 0, 0, 0)
    async with sessions() as session:
        names = (await session.execute(select(Customer.name).order_by(Customer.id))).scalars()
        assert list(names) == ["Fjord Rør AS", "Bager; Hansen ApS"]
    assert await _count(sessions, Invoice) == 0


async def test_bad_rows_are_reported_by_row_and_column_in_the_readers_language(
    sessions: Sessions,
) -> None:
    await _import(sessions, CUSTOMERS, CUSTOMERS_SEMICOLON)
    bad = (
        "external_id,number,customer_external_id,issue_date,due_date,description,quantity,"
        "unit_price,vat_rate\n"
        "B-1,B-001,C-1,2027-02-01,31.02.2027,Work,1,100,25\n"  # row 2: no 31 February
        'B-2,B-002,C-1,2027-02-01,2027-02-15,Work,1,"12,345",25\n'  # row 3: a tenth of an øre
        "B-3,B-003,C-9,2027-02-01,2027-02-15,Work,1,100,25\n"  # row 4: no such customer
        "B-4,B-004,C-1,2027-02-01,2027-02-15,Work,1,100,25\n"  # row 5: fine
        "B-4,B-004,C-2,,,More work,1,100,25\n"  # row 6: another customer on the same invoice
        "B-5,B-005,C-1,2027-02-01,2027-02-15,,1,100,25\n"  # row 7: no description
        "B-6,B-007,C-1,2027-02-01,2027-02-15,Work,1,100,25\n"  # row 8: fine
        "B-7,B-007,C-1,2027-02-01,2027-02-15,Work,1,100,25\n"  # row 9: B-6 has that number
    )

    report = await _import(sessions, INVOICES, bad)

    assert _counts(report) == (1, 0, 0, 7) and report.rows == 8 and not report.ok
    assert _errors(report) == [
        (2, "due_date", "due_date: “31.02.2027” is not a date (YYYY-MM-DD or DD.MM.YYYY)"),
        (3, "unit_price", "unit_price: “12,345” has more decimals than the currency has"),
        (4, "customer_external_id", "No customer has the external id C-9"),
        (
            6,
            "customer_external_id",
            "customer_external_id differs from the invoice's first row (C-1); the rows of one "
            "invoice share its values",
        ),
        (7, "description", "description is empty"),
        (9, "number", "Invoice number B-007 already exists"),
    ]
    norwegian = _errors(report, "nb")
    assert norwegian[0] == (
        2,
        "due_date",
        "due_date: «31.02.2027» er ikke en dato (ÅÅÅÅ-MM-DD eller DD.MM.ÅÅÅÅ)",
    )
    assert norwegian[2][2] == "Ingen kunde har den eksterne ID-en C-9"
    assert await _count(sessions, Invoice) == 1


async def test_a_file_that_cannot_be_read_says_why_and_where(sessions: Sessions) -> None:
    latin1 = "external_id,name\nC-1,Fjord\nC-2,Bj\xf8rn\n".encode("latin-1")
    report = await run_import(
        sessions,
        kind=CUSTOMERS,
        source=io.BytesIO(latin1),
        organisation_id=TEST_ORGANISATION,
        dry_run=False,
    )
    assert report.file_error is not None
    assert report.file_error.message == "Row 3 is not UTF-8 text: save the file as “CSV UTF-8”"
    missing = await _import(sessions, INVOICES, "external_id;number\nF-1;1\n")
    assert missing.file_error is not None and missing.file_error.message == (
        "The first line lacks the column customer_external_id, due_date, description, "
        "unit_price, vat_rate"
    )
    assert await _count(sessions, Customer) == 0
    empty = await _import(sessions, CUSTOMERS, "")
    assert empty.file_error is not None and empty.file_error.code == "file_unreadable"


async def test_a_large_file_is_read_while_it_is_imported(sessions: Sessions) -> None:
    """1 000 rows (500 invoices of two lines) in batches of 250 rows: the first batch is
    written when a third of the file has been read, and every invoice arrives, its lines
    whole."""
    await _import(sessions, CUSTOMERS, CUSTOMERS_SEMICOLON)
    header = "external_id,customer_external_id,due_date,description,quantity,unit_price,vat_rate\n"
    rows = [f"G-{n // 2},C-1,2027-03-01,Line {n % 2},1,{n}.50,25\n" for n in range(1000)]
    data = (header + "".join(rows)).encode()
    seen: list[Progress] = []

    async def note(progress: Progress) -> None:
        seen.append(progress)

    report = await run_import(
        sessions,
        kind=INVOICES,
        source=io.BytesIO(data),
        organisation_id=TEST_ORGANISATION,
        dry_run=False,
        batch_rows=250,
        on_progress=note,
    )

    assert report.ok and _counts(report) == (500, 0, 0, 0) and report.rows == 1000
    assert [p.rows for p in seen] == [250, 500, 750, 1000]
    assert seen[0].bytes_read < len(data) * 0.35
    assert seen[-1].bytes_read == len(data)
    assert await _count(sessions, Invoice) == 500
    async with sessions() as session:
        totals = (await session.execute(select(func.sum(Invoice.total)))).scalar_one()
    # each line n: n.50 kr + 25 % VAT, rounded half up to the øre
    assert totals == sum((n * 100 + 50) + (n * 100 + 50 + 2) // 4 for n in range(1000))
