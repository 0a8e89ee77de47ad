"""The audit log records edits (issue 13): an owner creates and changes a customer (portal
access on, a mobile number added), creates, changes and voids an invoice, and creates and
switches on a flow, all over HTTP; the owners' audit page then names who did each, what (in the
reader's language, here Norwegian) and what it was about, with the changed values and the
mobile number masked."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest import i18n as catalogs
from payrequest.users import service as users
from payrequest.web.admin.audit import ACTIONS, SUBJECTS
from tests.staff import PASSWORD, app_client, csrf_of, sign_in

Sessions = async_sessionmaker[AsyncSession]
OWNER = "Olga Eier"
ROW = re.compile(r'<tr data-audit-action="([^"]+)">(.*?)</tr>', re.S)
CELL = re.compile(r"<td>(.*?)</td>", re.S)
TAG = re.compile(r"<[^>]+>")


@pytest.fixture
async def client(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    async with sessions() as session, session.begin():
        await users.create_user(
            session,
            email="owner@example.no",
            password=PASSWORD,
            name=OWNER,
            role="owner",
            locale="nb",  # the owner reads the audit page in Norwegian
        )
    async with app_client(database_url, tmp_path, run_worker=False) as http:
        yield http


def norwegian(message: str) -> str:
    return catalogs.gettext("nb", message)


def rows(page: str) -> list[tuple[str, list[str]]]:
    """(action code, [when, who, action, subject, details, address]) of each entry shown."""
    found = []
    for action, cells in ROW.findall(page):
        texts = [html.unescape(TAG.sub("", cell)).strip() for cell in CELL.findall(cells)]
        found.append((action, texts))
    return found


def _invoice_form(token: str, customer_id: int, due: str) -> dict[str, object]:
    return {
        "csrf": token,
        "customer_id": str(customer_id),
        "number": "AUD-1",
        "issue_date": "2026-11-21",
        "due_date": due,
        "currency": "",
        "note": "",
        "description": ["Consulting", "", "", "", ""],
        "quantity": ["1", "1", "1", "1", "1"],
        "unit_price": ["1 000,00", "", "", "", ""],
        "vat_rate": ["25", "25", "25", "25", "25"],
    }


async def test_edits_of_customers_invoices_and_flows_are_on_the_audit_page(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, "owner")
    token = csrf_of((await client.get("/customers/new")).text)

    customer = {"csrf": token, "name": "Fjord AS", "country": "NO", "locale": "nb"}
    created = await client.post("/customers", data=customer)
    assert created.status_code == 303, created.text
    customer_id = int(created.headers["location"].rsplit("/", 1)[1])
    changed = {**customer, "phone": "412 34 567", "portal_access": "true"}
    assert (await client.post(f"/customers/{customer_id}", data=changed)).status_code == 303

    made = await client.post("/invoices", data=_invoice_form(token, customer_id, "2026-12-05"))
    assert made.status_code == 303, made.text
    invoice_id = int(made.headers["location"].rsplit("/", 1)[1])
    edit = _invoice_form(token, customer_id, "2026-12-19")
    assert (await client.post(f"/invoices/{invoice_id}", data=edit)).status_code == 303
    voided = await client.post(f"/invoices/{invoice_id}/void", data={"csrf": token})
    assert voided.status_code == 303

    flow = {
        "csrf": token,
        "op": "save",
        "name": "Kvittering",
        "trigger": "invoice.created",
        "action_count": "1",
        "a0_kind": "sms",
        "a0_recipient": "customer",
        "a0_text": "Hei {{ customer_name }}",
    }
    saved = await client.post("/flows/new", data=flow)
    assert saved.status_code == 303, saved.text
    flow_id = int(saved.headers["location"].rsplit("/", 1)[1])
    switched = await client.post(
        f"/flows/{flow_id}/toggle", data={"csrf": token, "enabled": "true"}
    )
    assert switched.status_code == 303

    page = await client.get("/audit")
    assert page.status_code == 200
    shown = {action: cells for action, cells in rows(page.text)}
    expected = {
        "customer.create": ("customer", customer_id),
        "customer.update": ("customer", customer_id),
        "invoice.create": ("invoice", invoice_id),
        "invoice.update": ("invoice", invoice_id),
        "invoice.void": ("invoice", invoice_id),
        "flow.create": ("flow", flow_id),
        "flow.enable": ("flow", flow_id),
    }
    for action, (subject, subject_id) in expected.items():
        assert action in shown, (action, list(shown))
        _, who, what, about, _, _ = shown[action]
        assert who == OWNER
        assert what == norwegian(ACTIONS[action])
        assert about == f"{norwegian(SUBJECTS[subject])} {subject_id}"
    assert norwegian(SUBJECTS["invoice"]) == "Faktura"  # the page is in Norwegian

    customer_change = shown["customer.update"][4]
    assert "Portaltilgang: Nei → Ja" in customer_change  # the details in Norwegian too
    assert "Mobilnummer: – → +47412**567" in customer_change
    assert "41234567" not in page.text  # never the whole number
    assert "Forfallsdato: 2026-12-05 → 2026-12-19" in shown["invoice.update"][4]
    new_invoice = shown["invoice.create"][4]
    assert "kr" in new_invoice and "currency" not in new_invoice and "Valuta" not in new_invoice
    assert "actions: sms" in shown["flow.create"][4]
