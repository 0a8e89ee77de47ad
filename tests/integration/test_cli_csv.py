"""`payrequest import customers|invoices FILE` and `payrequest export payments` as an operator
runs them (typer's runner in this process, a private SQLite file): a dry run writes nothing, a
refused row is printed with its row and column and makes the exit code 1, the progress bar
is shown, a file that cannot be read is one line, the export writes the file."""

from __future__ import annotations

import asyncio
import csv
import io
import os
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from payrequest import cli
from payrequest.customers.models import Customer
from payrequest.db.scope import acting_for, nobody
from payrequest.db.session import create_engine, session_factory
from payrequest.invoices.models import Invoice
from payrequest.kit.money import Money
from payrequest.ledger import manual
from payrequest.ledger.manual import NewManualPayment
from payrequest.payment_requests.repository import invoices_in_active_requests
from tests import servers

CUSTOMERS = "external_id;name;phone\nK-1;Fjord Rør AS;+47 912 34 567\nK-2;Bager Hansen;\n"
INVOICES = (
    "external_id,number,customer_external_id,due_date,description,quantity,unit_price,vat_rate\n"
    'I-1,I-001,K-1,15.03.2027,Arbeid,2,"450,00",25\n'
    'I-1,I-001,K-1,15.03.2027,Deler,1,"99,50",25\n'
    "I-2,I-002,K-404,2027-03-15,Arbeid,1,100,25\n"
)


def _cli(tmp_path: Path, *args: str) -> Result:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PAYREQUEST_")}
    env.update(servers.payrequest_env(tmp_path))
    with nobody():
        return CliRunner().invoke(cli.app, list(args), env=env)


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'payrequest.db'}"


async def _count(tmp_path: Path, model: type[object]) -> int:
    engine = create_engine(_url(tmp_path))
    try:
        with acting_for(1):
            async with session_factory(engine)() as session:
                stmt = select(func.count()).select_from(model)
                return int((await session.execute(stmt)).scalar_one())
    finally:
        await engine.dispose()


def test_import_customers_then_invoices_with_a_dry_run_first(tmp_path: Path) -> None:
    assert _cli(tmp_path, "migrate").exit_code == 0
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8-sig")
    (tmp_path / "invoices.csv").write_text(INVOICES, encoding="utf-8")

    dry = _cli(tmp_path, "import", "customers", str(tmp_path / "customers.csv"), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines()[:2] == [
        "Dry run: nothing was written.",
        "customers: 2 would be created, 0 would be updated, 0 unchanged; 2 rows read, 0 refused",
    ]
    assert asyncio.run(_count(tmp_path, Customer)) == 0

    done = _cli(tmp_path, "import", "customers", str(tmp_path / "customers.csv"))
    assert done.exit_code == 0, done.output
    assert "customers: 2 created, 0 updated, 0 unchanged" in done.stdout
    assert "customers.csv" in done.stderr and "2 rows" in done.stderr  # the progress bar

    invoices = _cli(tmp_path, "import", "invoices", str(tmp_path / "invoices.csv"))
    assert invoices.exit_code == 1
    assert "invoices: 1 created, 0 updated, 0 unchanged; 3 rows read, 1 refused" in (
        invoices.stdout
    )
    assert "row 4, customer_external_id: No customer has the external id K-404" in (invoices.stderr)
    again = _cli(tmp_path, "import", "invoices", str(tmp_path / "invoices.csv"))
    assert "invoices: 0 created, 0 updated, 1 unchanged" in again.stdout
    assert asyncio.run(_count(tmp_path, Invoice)) == 1

    # a file that is not there, or not UTF-8; an organisation that does not exist
    missing = _cli(tmp_path, "import", "invoices", str(tmp_path / "nothing.csv"))
    assert missing.exit_code == 2
    (tmp_path / "latin1.csv").write_bytes("external_id;name\nK-1;Bj\xf8rn\n".encode("latin-1"))
    unreadable = _cli(tmp_path, "import", "customers", str(tmp_path / "latin1.csv"))
    assert unreadable.exit_code == 1
    assert "error: Row 2 is not UTF-8 text: save the file as “CSV UTF-8”" in unreadable.stderr
    wrong_org = _cli(
        tmp_path, "import", "customers", str(tmp_path / "customers.csv"), "--org", "nobody"
    )
    assert wrong_org.exit_code == 2 and "No organisation has the short name nobody" in (
        wrong_org.stderr
    )


async def _paid_by_hand(tmp_path: Path) -> None:
    engine = create_engine(_url(tmp_path))
    try:
        with acting_for(1):
            async with session_factory(engine)() as session, session.begin():
                customer = (await session.execute(select(Customer))).scalars().first()
                assert customer is not None
                await manual.record(
                    session,
                    data=NewManualPayment(
                        customer_id=customer.id,
                        amount=Money(112_450, "NOK"),
                        received_on=manual.business_today(),
                        method="bank_transfer",
                        reference="KID 0001",
                    ),
                    in_requests=invoices_in_active_requests,
                )
    finally:
        await engine.dispose()


def test_export_payments_to_a_file_or_standard_output(tmp_path: Path) -> None:
    assert _cli(tmp_path, "migrate").exit_code == 0
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    (tmp_path / "invoices.csv").write_text(INVOICES)
    _cli(tmp_path, "import", "customers", str(tmp_path / "customers.csv"))
    _cli(tmp_path, "import", "invoices", str(tmp_path / "invoices.csv"))
    asyncio.run(_paid_by_hand(tmp_path))
    today = manual.business_today().isoformat()

    written = _cli(
        tmp_path,
        "export",
        "payments",
        "--from",
        today,
        "--to",
        today,
        "--output",
        str(tmp_path / "out.csv"),
    )
    shown = _cli(tmp_path, "export", "payments", "--from", today, "--to", today)

    assert written.exit_code == 0, written.output
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text("utf-8"))))
    assert [(r["type"], r["invoice_number"], r["amount"], r["reference"]) for r in rows] == [
        ("manual_payment", "I-001", "1124.50", "KID 0001")
    ]
    assert shown.exit_code == 0 and shown.stdout == (tmp_path / "out.csv").read_text("utf-8")
    nobody = _cli(
        tmp_path,
        "export",
        "payments",
        "--from",
        today,
        "--to",
        today,
        "--org",
        "nobody",
        "--output",
        str(tmp_path / "nobody.csv"),
    )
    assert nobody.exit_code == 2 and not (tmp_path / "nobody.csv").exists()
    backwards = _cli(tmp_path, "export", "payments", "--from", today, "--to", "2000-01-01")
    assert backwards.exit_code == 2
    assert backwards.stderr.strip() == "error: The period ends before it starts"
