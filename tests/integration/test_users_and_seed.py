from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.customers.models import Customer
from payrequest.demo.seed import seed_demo
from payrequest.errors import Conflict, ValidationFailed
from payrequest.invoices.models import Invoice
from payrequest.ledger import repository as ledger
from payrequest.payment_requests.models import PaymentRequest
from payrequest.users import service as users
from tests.factories import TODAY


async def test_users_are_created_and_authenticated(session: AsyncSession) -> None:
    user = await users.create_user(
        session, email=" Kari@Example.NO ", password="correct horse", role="owner"
    )
    assert user.email == "kari@example.no"
    assert user.password_hash.startswith("$argon2id$")
    assert await users.authenticate(session, email="KARI@example.no", password="correct horse")
    assert await users.authenticate(session, email="kari@example.no", password="wrong one!") is None
    assert await users.authenticate(session, email="nobody@example.no", password="x") is None
    with pytest.raises(Conflict):
        await users.create_user(session, email="kari@example.no", password="0123456789")
    with pytest.raises(ValidationFailed, match="at least 10"):
        await users.create_user(session, email="ola@example.no", password="short")
    with pytest.raises(ValidationFailed, match="Role must be"):
        await users.create_user(session, email="ola@example.no", password="0123456789", role="god")


async def test_demo_seed_is_realistic_and_idempotent(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        first = await seed_demo(session, today=TODAY)
    async with sessions() as session, session.begin():
        second = await seed_demo(session, today=TODAY)
    assert first.created and not second.created
    async with sessions() as session:
        customers = list((await session.execute(select(Customer))).scalars())
        invoices = list((await session.execute(select(Invoice))).scalars())
        count = (await session.execute(select(func.count(Invoice.id)))).scalar_one()
        balances = await ledger.invoice_balances(session, invoices)
    assert len(customers) >= 8 and count == len(invoices) >= 30
    assert {c.country for c in customers} == {"NO", "DK"}
    assert all(c.phone and c.phone.startswith(("+47", "+45")) for c in customers)
    assert {i.currency for i in invoices} == {"NOK"}  # one Norwegian sales unit
    assert any(b.is_overdue(TODAY) for b in balances.values())
    assert any(b.status.value == "paid" for b in balances.values())
    assert any(b.status.value == "open" and not b.is_overdue(TODAY) for b in balances.values())


async def test_demo_payments_are_described_in_each_customers_language(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """What the customer saw in the app: Norwegian for nb customers, Danish for da ones."""
    async with sessions() as session, session.begin():
        await seed_demo(session, today=TODAY)
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Customer.locale, PaymentRequest.description).join(
                    PaymentRequest, PaymentRequest.customer_id == Customer.id
                )
            )
        ).all()
    words = {"nb": ", forfall ", "da": ", forfald "}
    assert {locale for locale, _ in rows} == {"nb", "da"}
    for locale, description in rows:
        assert description.startswith("Faktura ") and words[locale] in description, description
