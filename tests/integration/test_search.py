"""Customer and invoice search: case-insensitive in every alphabet on both databases, `%` and
`_` taken literally, phone numbers found however they are spaced."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.customers import repository as customers
from payrequest.ledger import repository as ledger
from tests.factories import TODAY, make_customer, make_invoice
from tests.staff import app_client, create_staff, sign_in

NAMES = ("Østergaard Tømrer ApS", "Fjordbakeriet AS", "50% Rabatt AS", "Under_score AS")


async def _people(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        for index, name in enumerate(NAMES):
            customer = await make_customer(session, name=name, phone=f"+47 918 34 56{index}")
            await make_invoice(session, customer, number=f"2026{index:04d}")


async def _names(session: AsyncSession, query: str) -> list[str]:
    return [c.name for c in await customers.search(session, query=query)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Øster", ["Østergaard Tømrer ApS"]),
        ("øster", ["Østergaard Tømrer ApS"]),
        ("ØSTER", ["Østergaard Tømrer ApS"]),
        ("tømrer", ["Østergaard Tømrer ApS"]),
        ("%", ["50% Rabatt AS"]),
        ("50%", ["50% Rabatt AS"]),
        ("_", ["Under_score AS"]),
        ("fjord", ["Fjordbakeriet AS"]),
        ("918 34 561", ["Fjordbakeriet AS"]),  # typed as it is written, with spaces
        ("+47 918 34 562", ["50% Rabatt AS"]),
        ("4791834563", ["Under_score AS"]),
    ],
)
async def test_customer_search(
    sessions: async_sessionmaker[AsyncSession], query: str, expected: list[str]
) -> None:
    await _people(sessions)
    async with sessions() as session:
        assert await _names(session, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Øster", ["Østergaard Tømrer ApS"]),
        ("ØSTER", ["Østergaard Tømrer ApS"]),
        ("øster", ["Østergaard Tømrer ApS"]),
        ("%", ["50% Rabatt AS"]),
        ("50%", ["50% Rabatt AS"]),
        ("_", ["Under_score AS"]),
        ("20260001", ["Fjordbakeriet AS"]),  # the invoice number
    ],
)
async def test_invoice_search_by_number_or_customer(
    sessions: async_sessionmaker[AsyncSession], query: str, expected: list[str]
) -> None:
    await _people(sessions)
    async with sessions() as session:
        rows = await ledger.invoice_page(session, query=query, today=TODAY, limit=50)
        counts = await ledger.invoice_counts(session, query=query, today=TODAY)
    assert [row.customer_name for row in rows] == expected
    assert counts["all"] == len(expected)


async def test_the_customer_list_finds_by_folded_name_and_spaced_phone(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await create_staff(sessions, roles=("staff",), locale="nb")
    await _people(sessions)
    async with app_client(database_url, tmp_path) as client:
        await sign_in(client)
        for query in ("øster", "918 34 560"):
            found = await client.get("/customers", params={"q": query})
            assert found.status_code == 200
            assert "Østergaard Tømrer ApS" in found.text
            assert "Fjordbakeriet AS" not in found.text
        everyone = await client.get("/customers", params={"q": "%"})
        assert "50% Rabatt AS" in everyone.text and "Fjordbakeriet AS" not in everyone.text
        bad_page = await client.get("/customers", params={"page": "abc"})
        assert bad_page.status_code == 200  # page 1, not a 422
