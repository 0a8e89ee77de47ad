"""Bad input gets a clear error and writes nothing; the database refuses it too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.errors import Conflict, CurrencyMismatch, ValidationFailed
from payrequest.invoices import repository
from payrequest.invoices import service as invoices
from payrequest.invoices.models import Invoice, InvoiceLine
from payrequest.invoices.schemas import InvoiceInput, InvoiceLineInput
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.ledger import service as ledger
from payrequest.ledger.models import Allocation
from payrequest.payment_requests.models import PaymentRequest, PaymentRequestInvoice
from tests.factories import TODAY, make_customer, make_invoice


async def _count(session: AsyncSession, model: type) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


def _invoice_input(
    customer_id: int, number: str, price: int, currency: str = "NOK"
) -> InvoiceInput:
    return InvoiceInput(
        number=number,
        customer_id=customer_id,
        issue_date=TODAY,
        due_date=TODAY + timedelta(days=14),
        currency=currency,
        lines=[InvoiceLineInput(description="Work", unit_price=price)],
    )


async def test_duplicate_invoice_number_is_refused_and_writes_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        await invoices.create_invoice(session, data=_invoice_input(customer.id, "2026-1", 1000))
    with pytest.raises(Conflict, match="Invoice number 2026-1 already exists"):
        async with sessions() as session, session.begin():
            await invoices.create_invoice(session, data=_invoice_input(customer.id, "2026-1", 5000))
    async with sessions() as session:
        assert await _count(session, Invoice) == 1
        assert await _count(session, InvoiceLine) == 1


async def test_a_number_saved_by_someone_else_meanwhile_is_the_same_conflict(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The number was free when checked, then another person saved it before this flush: the
    unique number refuses it, and the caller reads the same Conflict (not a database error)."""

    async def nobody_has_it(*_args: object, **_kwargs: object) -> None:
        return None

    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        await invoices.create_invoice(session, data=_invoice_input(customer.id, "2026-7", 1000))
        other = await invoices.create_invoice(
            session, data=_invoice_input(customer.id, "2026-8", 1000)
        )
    monkeypatch.setattr(repository, "get_by_number", nobody_has_it)
    with pytest.raises(Conflict, match="Invoice number 2026-7 already exists"):
        async with sessions() as session, session.begin():
            await invoices.create_invoice(session, data=_invoice_input(customer.id, "2026-7", 50))
    monkeypatch.setattr(repository, "number_taken", nobody_has_it)
    with pytest.raises(Conflict, match="Invoice number 2026-7 already exists"):
        async with sessions() as session, session.begin():
            await invoices.update_invoice(
                session,
                invoice_id=other.id,
                data=_invoice_input(customer.id, "2026-7", 1000),
                allocated=0,
                in_active_request=False,
            )
    async with sessions() as session:
        assert await _count(session, Invoice) == 2
        numbers = set((await session.execute(select(Invoice.number))).scalars())
        assert numbers == {"2026-7", "2026-8"}


async def test_database_itself_refuses_a_duplicate_number(session: AsyncSession) -> None:
    customer = await make_customer(session)
    row = {
        "number": "X-1",
        "customer_id": customer.id,
        "issue_date": TODAY,
        "due_date": TODAY,
        "currency": "NOK",
        "total": 100,
        "created_at": utcnow(),
        "updated_at": utcnow(),
    }
    await session.execute(insert(Invoice).values(**row))
    with pytest.raises(IntegrityError):
        await session.execute(insert(Invoice).values(**row))


async def test_negative_amount_is_refused_by_service_and_database(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(ValidationFailed, match="Unit price cannot be negative"):
        async with sessions() as session, session.begin():
            customer = await make_customer(session)
            await invoices.create_invoice(session, data=_invoice_input(customer.id, "N-1", -500))
    async with sessions() as session:
        assert await _count(session, Invoice) == 0
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
    with pytest.raises(IntegrityError):
        async with sessions() as session, session.begin():
            await session.execute(
                insert(Invoice).values(
                    number="N-2",
                    customer_id=customer.id,
                    issue_date=TODAY,
                    due_date=TODAY,
                    currency="NOK",
                    total=-1,
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
            )


async def test_currency_mix_is_refused_by_service_and_database(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoice = await make_invoice(session, customer, amount=10_000, currency="NOK")
        request = PaymentRequest(
            reference="mix-test-0001",
            customer_id=customer.id,
            currency="DKK",
            amount=10_000,
            description="x",
            origin="staff",
            expires_at=utcnow() + timedelta(hours=1),
        )
        session.add(request)
    with pytest.raises(CurrencyMismatch, match="is in NOK, the payment in DKK"):
        async with sessions() as session, session.begin():
            await ledger.allocate_payment(
                session,
                payment_request_id=request.id,
                customer_id=customer.id,
                amount=Money(10_000, "DKK"),
                invoice_ids=[invoice.id],
            )
    with pytest.raises(IntegrityError):
        async with sessions() as session, session.begin():
            session.add(
                Allocation(
                    invoice_id=invoice.id, currency="DKK", amount=100, payment_request_id=request.id
                )
            )
    async with sessions() as session:
        assert await _count(session, Allocation) == 0


async def test_an_invoice_is_in_at_most_one_active_request(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
        invoice = await make_invoice(session, customer)

    def request(ref: str, active: bool) -> PaymentRequest:
        return PaymentRequest(
            reference=ref,
            customer_id=customer.id,
            currency="NOK",
            amount=invoice.total,
            description="x",
            origin="staff",
            expires_at=utcnow() + timedelta(hours=1),
            invoice_links=[
                PaymentRequestInvoice(
                    invoice_id=invoice.id,
                    currency="NOK",
                    planned_amount=invoice.total,
                    active=active,
                )
            ],
        )

    async with sessions() as session, session.begin():
        session.add(request("first-request-1", active=True))
    with pytest.raises(IntegrityError):
        async with sessions() as session, session.begin():
            session.add(request("second-request-1", active=True))
    # Finished requests do not hold the invoice: any number of them may exist.
    async with sessions() as session, session.begin():
        session.add(request("old-request-1", active=False))
        session.add(request("old-request-2", active=False))
    async with sessions() as session:
        assert await _count(session, PaymentRequest) == 3


async def test_payment_reference_is_unique(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session)
    for attempt in range(2):
        async with sessions() as session:
            session.add(
                PaymentRequest(
                    reference="same-ref-0001",
                    customer_id=customer.id,
                    currency="NOK",
                    amount=100,
                    description="x",
                    origin="staff",
                    expires_at=utcnow() + timedelta(hours=1),
                )
            )
            if attempt == 0:
                await session.commit()
            else:
                with pytest.raises(IntegrityError):
                    await session.commit()
