"""Realistic demo data for two businesses: a Norwegian one (NORWEGIAN) with Norwegian and
Danish customers, invoices in NOK with VAT, and a Danish one (DANISH) with Danish customers
invoiced in DKK; some invoices overdue, some paid.

Dates are relative to `today`, so "overdue" stays true whenever the demo runs. Seeding is
idempotent: a database that already has the demo customers is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers import repository as customers_repo
from payrequest.customers import service as customers
from payrequest.customers.schemas import CustomerInput
from payrequest.invoices import service as invoices
from payrequest.invoices.models import Invoice
from payrequest.invoices.schemas import InvoiceInput, InvoiceLineInput
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.ledger import service as ledger
from payrequest.payment_requests.description import describe
from payrequest.payment_requests.models import (
    PaymentRequest,
    PaymentRequestEvent,
    PaymentRequestInvoice,
)
from payrequest.payment_requests.state import Status

# (number, name, email, phone, country, locale, portal access)
CUSTOMERS: tuple[tuple[str, str, str, str, str, str, bool], ...] = (
    ("10001", "Fjordbakeriet AS", "post@fjordbakeriet.no", "+47 918 34 562", "NO", "nb", True),
    ("10002", "Ingrid Solberg", "ingrid.solberg@example.no", "+47 936 12 874", "NO", "nb", True),
    ("10003", "Haugen Rørlegger AS", "ola@haugenror.no", "+47 482 19 305", "NO", "nb", False),
    ("10004", "Nordlys Frisør", "hei@nordlysfrisor.no", "+47 975 40 218", "NO", "nb", True),
    ("10005", "Sander Bakke", "sander.bakke@example.no", "+47 405 66 781", "NO", "nb", False),
    ("10006", "Mette Kjær Hansen", "mette.kjaer@example.dk", "+45 20 45 71 36", "DK", "da", True),
    (
        "10007",
        "Østergaard Tømrer ApS",
        "soren@ostergaard-tomrer.dk",
        "+45 31 28 64 90",
        "DK",
        "da",
        False,
    ),
    ("10008", "Café Havnen ApS", "kontakt@cafehavnen.dk", "+45 52 73 18 44", "DK", "da", True),
    (
        "10009",
        "Frederik Nielsen",
        "frederik.nielsen@example.dk",
        "+45 61 19 82 05",
        "DK",
        "da",
        False,
    ),
)

# Line templates per country: (description, unit price in minor units excl. VAT, VAT basis points)
NO_LINES = (
    ("Konsulenttimer", 95_000, 2500),
    ("Servicebesøk", 149_000, 2500),
    ("Reservedeler", 38_950, 2500),
    ("Catering, lunsj per person", 18_900, 1500),
    ("Abonnement, månedlig", 49_900, 2500),
    ("Kjøring", 6_500, 2500),
)
DK_LINES = (
    ("Konsulenttimer", 85_000, 2500),
    ("Tømrerarbejde, timer", 52_500, 2500),
    ("Materialer", 124_900, 2500),
    ("Kørsel", 45_000, 2500),
    ("Abonnement, månedligt", 29_900, 2500),
)

# The Danish business's own customers (its sales unit takes DKK).
DANISH_CUSTOMERS: tuple[tuple[str, str, str, str, str, str, bool], ...] = (
    ("20001", "Lund & Søn ApS", "kontor@lundogsoen.dk", "+45 40 12 58 77", "DK", "da", True),
    ("20002", "Sofie Andersen", "sofie.andersen@example.dk", "+45 26 84 19 03", "DK", "da", True),
    ("20003", "Nørrebro Bageri", "hej@norrebrobageri.dk", "+45 50 77 31 62", "DK", "da", False),
    ("20004", "Mikkel Holm", "mikkel.holm@example.dk", "+45 29 63 40 15", "DK", "da", True),
)


@dataclass(frozen=True, slots=True)
class DemoBusiness:
    """One demo business's data: its customers, the currency its sales unit takes, and the
    prefix of its paid demo payments' references (references are unique installation-wide)."""

    customers: tuple[tuple[str, str, str, str, str, str, bool], ...]
    currency: str
    reference_prefix: str


# The demo business of Norway: one Vipps MobilePay sales unit, which takes NOK only, so its
# Danish customers are invoiced in NOK too.
NORWEGIAN = DemoBusiness(CUSTOMERS, "NOK", "demo-")
DANISH = DemoBusiness(DANISH_CUSTOMERS, "DKK", "demo-dk-")


@dataclass(frozen=True, slots=True)
class SeedSummary:
    created: bool
    customers: int
    invoices: int
    paid_invoices: int


def _invoice_plan(index: int, today: date) -> tuple[date, date, int]:
    """(issue date, due date, how many lines) spread over the last four months."""
    issue = today - timedelta(days=5 + (index * 11) % 110)
    due = issue + timedelta(days=14 if index % 3 else 30)
    return issue, due, 1 + index % 3


async def seed_demo(
    session: AsyncSession, *, today: date, business: DemoBusiness = NORWEGIAN
) -> SeedSummary:
    """Seed the session's organisation with `business`'s data, unless it has it already."""
    if await customers_repo.get_by_number(session, business.customers[0][0]) is not None:
        return SeedSummary(created=False, customers=0, invoices=0, paid_invoices=0)
    invoice_count = paid = 0
    serial = 0
    for c_index, (number, name, email, phone, country, locale, portal) in enumerate(
        business.customers
    ):
        customer = await customers.create_customer(
            session,
            data=CustomerInput(
                number=number,
                name=name,
                email=email,
                phone=phone,
                country=country,
                locale=locale,
                portal_access=portal,
            ),
        )
        currency = business.currency
        templates = NO_LINES if country == "NO" else DK_LINES
        created: list[Invoice] = []
        for _ in range(3 + c_index % 3):
            serial += 1
            issue, due, line_count = _invoice_plan(serial, today)
            lines = [
                InvoiceLineInput(
                    description=templates[(serial + k) % len(templates)][0],
                    quantity=(1 + (serial + k) % 4),
                    unit_price=templates[(serial + k) % len(templates)][1],
                    vat_rate_bp=templates[(serial + k) % len(templates)][2],
                )
                for k in range(line_count)
            ]
            invoice = await invoices.create_invoice(
                session,
                data=InvoiceInput(
                    number=f"{2026}{serial:04d}",
                    customer_id=customer.id,
                    issue_date=issue,
                    due_date=due,
                    currency=currency,
                    lines=lines,
                ),
            )
            created.append(invoice)
            invoice_count += 1
        # Every third customer has already paid their oldest invoice with MobilePay.
        if c_index % 3 == 0:
            oldest = min(created, key=lambda inv: inv.due_date)
            await _paid_request(
                session,
                customer_id=customer.id,
                phone=customer.phone,
                invoice=oldest,
                language=customer.locale,
                reference_prefix=business.reference_prefix,
            )
            paid += 1
    return SeedSummary(True, len(business.customers), invoice_count, paid)


async def _paid_request(
    session: AsyncSession,
    *,
    customer_id: int,
    phone: str | None,
    invoice: Invoice,
    language: str,
    reference_prefix: str,
) -> None:
    """A past, completed MobilePay payment for one invoice, with its timeline."""
    when = utcnow() - timedelta(days=3)
    request = PaymentRequest(
        reference=f"{reference_prefix}{invoice.number}-paid",
        provider="vipps",
        provider_reference=f"{reference_prefix}{invoice.number}-paid",
        customer_id=customer_id,
        currency=invoice.currency,
        amount=invoice.total,
        phone=phone,
        user_flow="push",
        description=describe([invoice], language=language),
        status=Status.paid,
        origin="staff",
        expires_at=when + timedelta(days=1),
        captured_amount=invoice.total,
        provider_state="authorized",
        created_at=when,
        finished_at=when + timedelta(minutes=2),
        invoice_links=[
            PaymentRequestInvoice(
                invoice_id=invoice.id,
                currency=invoice.currency,
                planned_amount=invoice.total,
                active=False,
            )
        ],
        timeline=[
            PaymentRequestEvent(
                kind="state_changed",
                source=source,
                from_status=a,
                to_status=b,
                occurred_at=when + timedelta(seconds=s),
                details={},
            )
            for source, a, b, s in (
                ("user", None, "sending", 0),
                ("system", "sending", "pending", 1),
                ("webhook", "pending", "authorized", 75),
                ("system", "authorized", "paid", 77),
            )
        ],
    )
    session.add(request)
    await session.flush()
    await ledger.allocate_payment(
        session,
        payment_request_id=request.id,
        customer_id=customer_id,
        amount=Money(invoice.total, invoice.currency),
        invoice_ids=[invoice.id],
    )
