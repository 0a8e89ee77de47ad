"""The customer card's money section over HTTP (the real app, SQLite and PostgreSQL): record a
payment received by hand, undo it (who may, and a second undo), apply customer credit and take
an application back (from the card and the invoice; who may; once only); errors
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
from tests.language_check import english_words
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


def _part(pattern: str, page: str) -> str:
    """The text of the first group of `pattern` in `page`, as a person reads it."""
    found = re.search(pattern, page, re.S)
    assert found is not None, pattern
    return _text(found.group(1))


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


async def test_take_back_credit_from_the_invoice_and_the_card_then_undo_the_payment(
    client: httpx.AsyncClient, sessions: Sessions, database_url: str, tmp_path: Path
) -> None:
    customer_id, _ = await _card(sessions)
    card = f"/customers/{customer_id}"
    await sign_in(client, "staff")
    payment_id = await _recorded(client, card, "900")  # pays both, 100 kr credit
    async with sessions() as session, session.begin():
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        wrong = await make_invoice(session, customer, amount=25_000, due_in_days=20)
    await _post(
        client,
        f"{card}/credit/apply",
        {"currency": "NOK", "amount": "60", "invoice_ids": [wrong.id]},
        card=card,
    )
    page = (await client.get(card)).text
    application = int(_part(r'<tr data-applied-credit="(\d+)">', page))
    row = _part(rf'<tr data-applied-credit="{application}">(.*?)</tr>', page)
    action = f'action="/credit-applications/{application}/take-back"'
    assert action in page and wrong.number in row and "NOK 60.00" in row
    assert action in (await client.get(f"/invoices/{wrong.id}")).text

    # The payment cannot be undone while its credit is on the invoice, and says what to do.
    refused = await _post(
        client, f"/manual-payments/{payment_id}/undo", {"reason": "Bounced"}, card=card
    )
    assert refused == [
        "NOK\u00a060.00 of the credit this payment left has been applied to invoices. Take those "
        "credit applications back first (customer card, Credit applied to invoices), then undo "
        "the payment."
    ]
    assert "Take that back under Credit applied to invoices below" in _text(page)

    # Neither a read-only account nor other staff may take it back.
    async with sessions() as session, session.begin():
        await users.create_user(
            session, email="other@example.no", password="correct horse", role="staff"
        )
    for who in ("readonly", "other"):
        async with app_client(database_url, tmp_path, run_worker=False) as other:
            token = csrf_of((await other.get("/login")).text)
            await other.post(
                "/login",
                data={"email": f"{who}@example.no", "password": "correct horse", "csrf": token},
            )
            seen = (await other.get(card)).text
            assert "/take-back" not in seen
            denied = await other.post(
                f"/credit-applications/{application}/take-back",
                data={"reason": "x", "csrf": csrf_of(seen)},
            )
            assert denied.status_code == 403

    # A reason is needed; then it is taken back from the invoice's page, which it returns to.
    no_reason = await _post(
        client,
        f"/credit-applications/{application}/take-back",
        {"reason": " ", "back": "invoice"},
        card=card,
    )
    assert len(no_reason) == 1 and "Say why the credit is taken back" in no_reason[0]
    token = csrf_of((await client.get(f"/invoices/{wrong.id}")).text)
    response = await client.post(
        f"/credit-applications/{application}/take-back",
        data={"reason": "Wrong invoice", "back": "invoice", "csrf": token},
    )
    assert response.headers["location"] == f"/invoices/{wrong.id}"
    detail = (await client.get(f"/invoices/{wrong.id}")).text
    assert _flashes(detail) == [
        f"NOK\u00a060.00 of credit taken back from invoice {wrong.number}: the invoice is open "
        "again by that amount and the credit can be used again."
    ]
    text = _text(detail)
    assert "Taken back · Customer credit" in text and "Wrong invoice" in text
    assert "Wrong invoice) -NOK 60.00" in text.replace("\u2212", "-")
    page = (await client.get(card)).text
    row = _part(rf'data-applied-credit="{application}"[^>]*>(.*?)</tr>', page)
    assert "Taken back" in row and "Wrong invoice" in row
    assert "NOK 100.00" in _part(r"data-credit-available>(.*?)</p>", page)

    again = await _post(
        client, f"/credit-applications/{application}/take-back", {"reason": "again"}, card=card
    )
    assert len(again) == 1 and "was already taken back" in again[0], again
    assert "nothing changed" in again[0]
    async with sessions() as session:
        names = (await session.execute(select(OutboxEvent.name))).scalars().all()
    assert names.count("credit.taken_back") == 1

    # Now the payment can be undone.
    undone = await _post(
        client, f"/manual-payments/{payment_id}/undo", {"reason": "Bounced"}, card=card
    )
    assert undone == ["Payment of NOK\u00a0900.00 undone."]


@pytest.mark.parametrize("language", ["nb", "da"])
async def test_credit_applications_and_take_backs_read_in_the_staff_members_language(
    client: httpx.AsyncClient, sessions: Sessions, language: str
) -> None:
    customer_id, _ = await _card(sessions)
    card = f"/customers/{customer_id}"
    await sign_in(client, "staff")
    payment_id = await _recorded(client, card, "1000")  # pays both, 200 kr credit
    async with sessions() as session, session.begin():
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        later = await make_invoice(session, customer, amount=25_000, due_in_days=20)
    for amount in ("60", "40"):
        await _post(
            client,
            f"{card}/credit/apply",
            {"currency": "NOK", "amount": amount, "invoice_ids": [later.id]},
            card=card,
        )
    older = int(
        _part(
            r'<tr data-applied-credit="\d+">.*?<tr data-applied-credit="(\d+)">',
            (await client.get(card)).text,
        )
    )
    await _post(
        client, f"/credit-applications/{older}/take-back", {"reason": "Feil faktura"}, card=card
    )
    token = csrf_of((await client.get(card)).text)
    await client.post("/account/language", data={"language": language, "csrf": token})
    refused = await _post(
        client, f"/manual-payments/{payment_id}/undo", {"reason": "Feil"}, card=card
    )

    problems = {}
    for page in (card, f"/invoices/{later.id}"):
        html_ = (await client.get(page)).text
        assert "/take-back" in html_ and "Feil faktura" in html_, page
        names = [*re.findall(r"INV-\d+", html_), "staff"]  # invoice numbers, the user's name
        problems[page] = english_words(html_, language, names)
    assert not any(problems.values()), problems
    assert len(refused) == 1 and not english_words(f"<p>{refused[0]}</p>", language), refused
