"""The customer card's money section over HTTP (the real app, SQLite and PostgreSQL): record a
payment received by hand, undo it (who may, and a second undo), apply customer credit; errors
in the reader's language and nothing written."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.customers.models import Customer
from payrequest.events.models import OutboxEvent
from payrequest.ledger import manual
from payrequest.ledger.models import Allocation, ManualPayment
from payrequest.users import service as users
from payrequest.users.models import User
from tests.factories import make_customer, make_invoice
from tests.staff import app_client, create_staff, csrf_of, sign_in

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def client(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    await create_staff(sessions)
    async with app_client(database_url, tmp_path, run_worker=False) as http:
        yield http


async def _card(sessions: Sessions) -> tuple[int, list[int]]:
    """A Norwegian customer with an overdue 300 kr and a 500 kr invoice (ids oldest due first)."""
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        older = await make_invoice(session, customer, amount=30_000, due_in_days=-10)
        newer = await make_invoice(session, customer, amount=50_000, due_in_days=5)
    return customer.id, [older.id, newer.id]


def _text(page: str) -> str:
    """What a person reads: no tags, every run of white space one plain space."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _flashes(page: str) -> list[str]:
    return [
        html.unescape(re.sub(r"<[^>]+>", "", text)).strip()
        for text in re.findall(r'<p class="flash[^"]*"[^>]*>(.*?)</p>', page, re.S)
    ]


async def _post(
    client: httpx.AsyncClient, path: str, data: dict[str, object], *, card: str
) -> list[str]:
    token = csrf_of((await client.get(card)).text)
    response = await client.post(path, data={**data, "csrf": token})
    assert response.status_code == 303, response.text
    return _flashes((await client.get(response.headers["location"])).text)


async def _count(sessions: Sessions, model: type[object]) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_record_a_bank_transfer_from_the_card(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    customer_id, (older, newer) = await _card(sessions)
    await sign_in(client, "staff")
    card = f"/customers/{customer_id}"
    page = (await client.get(card)).text
    assert "Record a payment received" in page and 'name="received_on"' in page

    flashes = await _post(
        client,
        f"{card}/payments",
        {
            "amount": "900,00",
            "currency": "NOK",
            "method": "bank_transfer",
            "received_on": manual.business_today().isoformat(),
            "reference": "KID 2026117",
        },
        card=card,
    )

    assert flashes == [
        "Payment of NOK\u00a0900.00 recorded. NOK\u00a0100.00 was more than was open and "
        "became customer credit."
    ]
    page = (await client.get(card)).text
    row = re.search(r'<tr data-manual-payment="\d+">(.*?)</tr>', page, re.S)
    assert row is not None
    text = html.unescape(re.sub(r"<[^>]+>", " ", row.group(1)))
    async with sessions() as session:
        recorder = (
            await session.execute(select(User.name).where(User.email == "staff@example.no"))
        ).scalar_one()
    words = " ".join(text.split())
    for expected in ("Bank transfer", "KID 2026117", recorder, "NOK 900.00", "Undo"):
        assert expected in words, (expected, words)
    assert page.count('data-invoice-status="paid"') == 2
    detail = _text((await client.get(f"/invoices/{older}")).text)
    assert "Payment received: Bank transfer · KID 2026117" in detail
    async with sessions() as session:
        names = (await session.execute(select(OutboxEvent.name))).scalars().all()
    assert "manual_payment.recorded" in names and names.count("invoice.paid") == 2
    assert newer


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"received_on": "__future__"}, "Mottaksdatoen kan ikke være fram i tid"),
        ({"amount": "abc"}, "«abc» er ikke et beløp"),
        ({"currency": "DKK", "chosen": True}, "er i NOK, betalingen i DKK"),
    ],
)
async def test_bad_input_is_told_in_the_readers_language_and_writes_nothing(
    client: httpx.AsyncClient, sessions: Sessions, change: dict[str, object], message: str
) -> None:
    customer_id, (older, _) = await _card(sessions)
    await sign_in(client, "staff")
    card = f"/customers/{customer_id}"
    token = csrf_of((await client.get(card)).text)
    await client.post("/account/language", data={"language": "nb", "csrf": token})
    data: dict[str, object] = {
        "amount": "100",
        "currency": "NOK",
        "method": "cash",
        "received_on": manual.business_today().isoformat(),
    }
    if change.get("chosen"):
        data["invoice_ids"] = [older]
    data.update({key: value for key, value in change.items() if key != "chosen"})
    if data["received_on"] == "__future__":
        data["received_on"] = (manual.business_today() + timedelta(days=3)).isoformat()

    flashes = await _post(client, f"{card}/payments", data, card=card)

    assert len(flashes) == 1 and message in flashes[0], flashes
    assert await _count(sessions, ManualPayment) == 0
    assert await _count(sessions, Allocation) == 0


async def _recorded(client: httpx.AsyncClient, card: str, amount: str = "100") -> int:
    await _post(
        client,
        f"{card}/payments",
        {
            "amount": amount,
            "currency": "NOK",
            "method": "cash",
            "received_on": manual.business_today().isoformat(),
        },
        card=card,
    )
    page = (await client.get(card)).text
    found = re.findall(r'data-manual-payment="(\d+)"', page)
    return int(found[0])


async def test_undo_by_who_may_and_a_second_undo_says_so(
    client: httpx.AsyncClient, sessions: Sessions, database_url: str, tmp_path: Path
) -> None:
    customer_id, (older, _) = await _card(sessions)
    card = f"/customers/{customer_id}"
    await sign_in(client, "staff")
    payment_id = await _recorded(client, card)
    assert f'action="/manual-payments/{payment_id}/undo"' in (await client.get(card)).text

    async with app_client(database_url, tmp_path, run_worker=False) as reader:
        await sign_in(reader, "readonly")
        page = (await reader.get(card)).text
        assert "/undo" not in page and "Record a payment received" not in page
        token = csrf_of(page)
        refused = await reader.post(
            f"/manual-payments/{payment_id}/undo", data={"reason": "x", "csrf": token}
        )
        assert refused.status_code == 403
    async with sessions() as session, session.begin():
        await users.create_user(
            session, email="other@example.no", password="correct horse", role="staff"
        )
    async with app_client(database_url, tmp_path, run_worker=False) as other:
        token = csrf_of((await other.get("/login")).text)
        await other.post(
            "/login",
            data={"email": "other@example.no", "password": "correct horse", "csrf": token},
        )
        page = (await other.get(card)).text
        assert "/undo" not in page
        refused = await other.post(
            f"/manual-payments/{payment_id}/undo", data={"reason": "x", "csrf": csrf_of(page)}
        )
        assert refused.status_code == 403
    assert await _count(sessions, Allocation) == 1

    flashes = await _post(
        client, f"/manual-payments/{payment_id}/undo", {"reason": "Wrong customer"}, card=card
    )
    assert flashes == ["Payment of NOK\u00a0100.00 undone."]
    page = html.unescape((await client.get(card)).text)
    assert "Undone" in page and "Wrong customer" in page
    detail = _text((await client.get(f"/invoices/{older}")).text)
    assert "Undone · Payment received: Cash" in detail and "Wrong customer" in detail

    again = await _post(
        client, f"/manual-payments/{payment_id}/undo", {"reason": "again"}, card=card
    )
    assert len(again) == 1 and "was already undone" in again[0] and "nothing changed" in again[0]
    assert await _count(sessions, Allocation) == 2


async def test_owner_undoes_what_staff_recorded(
    client: httpx.AsyncClient, sessions: Sessions, database_url: str, tmp_path: Path
) -> None:
    customer_id, _ = await _card(sessions)
    card = f"/customers/{customer_id}"
    await sign_in(client, "staff")
    payment_id = await _recorded(client, card)
    async with app_client(database_url, tmp_path, run_worker=False) as owner:
        await sign_in(owner, "owner")
        flashes = await _post(
            owner, f"/manual-payments/{payment_id}/undo", {"reason": "Bounced"}, card=card
        )
    assert flashes == ["Payment of NOK\u00a0100.00 undone."]


async def test_apply_credit_from_the_card(client: httpx.AsyncClient, sessions: Sessions) -> None:
    customer_id, (older, newer) = await _card(sessions)
    card = f"/customers/{customer_id}"
    await sign_in(client, "staff")
    await _recorded(client, card, "900")  # pays both, 100 kr credit
    async with sessions() as session, session.begin():
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        later = await make_invoice(session, customer, amount=25_000, due_in_days=20)
    page = (await client.get(card)).text
    assert "Apply credit to invoices" in page

    flashes = await _post(
        client,
        f"{card}/credit/apply",
        {"currency": "NOK", "amount": "60", "invoice_ids": [later.id]},
        card=card,
    )

    assert flashes == [f"NOK\u00a060.00 of credit applied to invoice {later.number}."]
    detail = _text((await client.get(f"/invoices/{later.id}")).text)
    assert "Customer credit (Paid more than was open on the invoices) NOK 60.00" in detail
    too_much = await _post(
        client, f"{card}/credit/apply", {"currency": "NOK", "amount": "50"}, card=card
    )
    assert too_much == ["At most NOK\u00a040.00 of credit is available"]
    assert older and newer
