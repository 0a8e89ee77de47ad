"""Small builders for test data, going through the real services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers import service as customers
from payrequest.customers.models import Customer
from payrequest.customers.schemas import CustomerInput
from payrequest.invoices import service as invoices
from payrequest.invoices.models import Invoice
from payrequest.invoices.schemas import InvoiceInput, InvoiceLineInput

# Today's date: due dates made relative to it are overdue or not as the pages will see them
# (a fixed date here made "due in 10 days" overdue once the real calendar passed it).
TODAY = datetime.now(UTC).date()
_counter = {"invoice": 0, "customer": 0}


async def make_customer(
    session: AsyncSession,
    *,
    name: str = "Kari Nordmann",
    phone: str = "+47 912 34 567",
    country: str = "NO",
    tags: tuple[str, ...] = (),
) -> Customer:
    _counter["customer"] += 1
    return await customers.create_customer(
        session,
        data=CustomerInput(
            name=name,
            number=f"T{_counter['customer']:05d}",
            phone=phone,
            country=country,
            tags=list(tags),
        ),
    )


async def make_invoice(
    session: AsyncSession,
    customer: Customer,
    *,
    amount: int = 100_000,
    currency: str = "NOK",
    due_in_days: int = 14,
    number: str | None = None,
) -> Invoice:
    """An invoice with one line at 0 % VAT, so `amount` is its total."""
    _counter["invoice"] += 1
    return await invoices.create_invoice(
        session,
        data=InvoiceInput(
            number=number or f"INV-{_counter['invoice']:06d}",
            customer_id=customer.id,
            issue_date=TODAY - timedelta(days=30),
            due_date=TODAY - timedelta(days=30) + timedelta(days=30 + due_in_days),
            currency=currency,
            lines=[InvoiceLineInput(description="Work", unit_price=amount, vat_rate_bp=0)],
        ),
    )
