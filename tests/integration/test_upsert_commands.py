"""Upserts by the business's own id (customers.upsert, invoices.upsert through
commands.invoices), on both databases: create, change the fields given, the same data again
changes nothing (no write, no event, no audit entry), a paid invoice refuses a change, and an
unknown customer is named by the field it came in."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.audit.models import AuditEntry
from payrequest.commands.invoices import upsert_invoice, void_invoice
from payrequest.customers.schemas import CustomerUpsert
from payrequest.customers.upsert import upsert_customer
from payrequest.errors import Conflict, NotFound, ValidationFailed
from payrequest.events.models import OutboxEvent
from payrequest.invoices.schemas import InvoiceLineInput, InvoiceUpsert
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.ledger import service as ledger
from payrequest.payment_requests.models import PaymentRequest

LINE = InvoiceLineInput(description="Consulting", quantity="1.5", unit_price=100_000)


async def _counts(session: AsyncSession) -> tuple[int, int]:
    """(audit entries, outbox events) so far."""
    audit = (await session.execute(select(func.count(AuditEntry.id)))).scalar_one()
    events = (await session.execute(select(func.count(OutboxEvent.id)))).scalar_one()
    return int(audit), int(events)


async def test_a_customer_is_created_then_changed_then_left_alone(session: AsyncSession) -> None:
    data = CustomerUpsert(
        external_id="ERP-1", name="Fjord AS", email="Post@Fjord.no", organisation_number="912345678"
    )
    first = await upsert_customer(session, data=data, actor_id=None)
    assert (first.created, first.changed) == (True, True)
    customer = first.row
    assert (customer.external_id, customer.email) == ("ERP-1", "post@fjord.no")
    assert customer.organisation_number == "912345678"

    changed = await upsert_customer(
        session, data=CustomerUpsert(external_id="ERP-1", phone="912 34 567"), actor_id=None
    )
    assert (changed.created, changed.changed) == (False, True)
    assert changed.row.id == customer.id
    assert (changed.row.phone, changed.row.name) == ("+4791234567", "Fjord AS")  # name kept

    before = await _counts(session)
    again = await upsert_customer(
        session,
        data=CustomerUpsert(external_id="ERP-1", name="Fjord AS", phone="+47 912 34 567"),
        actor_id=None,
    )
    assert (again.created, again.changed) == (False, False)
    assert await _counts(session) == before


async def test_a_new_customer_needs_a_name(session: AsyncSession) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await upsert_customer(session, data=CustomerUpsert(external_id="X"), actor_id=None)
    assert refused.value.field == "name"


def _invoice(**changes: object) -> InvoiceUpsert:
    values: dict[str, object] = {
        "external_id": "INV-ERP-1",
        "customer_external_id": "ERP-1",
        "number": "2026-001",
        "reference": "1234567890",
        "issue_date": date(2026, 12, 1),
        "due_date": date(2026, 12, 15),
        "lines": [LINE],
    }
    return InvoiceUpsert.model_validate({**values, **changes})


async def _customer(session: AsyncSession) -> int:
    upserted = await upsert_customer(
        session, data=CustomerUpsert(external_id="ERP-1", name="Fjord AS"), actor_id=None
    )
    return upserted.row.id


async def test_an_invoice_is_created_then_changed_then_left_alone(session: AsyncSession) -> None:
    customer_id = await _customer(session)
    first = await upsert_invoice(session, data=_invoice(), actor_id=None)
    assert (first.created, first.changed) == (True, True)
    invoice = first.row
    assert (invoice.customer_id, invoice.currency, invoice.total) == (customer_id, "NOK", 187_500)
    assert (invoice.external_id, invoice.reference) == ("INV-ERP-1", "1234567890")

    changed = await upsert_invoice(
        session, data=_invoice(due_date=date(2026, 12, 31), note="Thanks"), actor_id=None
    )
    assert (changed.created, changed.changed) == (False, True)
    assert (changed.row.id, changed.row.due_date, changed.row.note) == (
        invoice.id,
        date(2026, 12, 31),
        "Thanks",
    )

    before = await _counts(session)
    again = await upsert_invoice(
        session,
        data=_invoice(customer_id=customer_id, due_date=date(2026, 12, 31), note="Thanks"),
        actor_id=None,
    )
    assert (again.created, again.changed) == (False, False)
    only_id = await upsert_invoice(
        session, data=InvoiceUpsert(external_id="INV-ERP-1"), actor_id=None
    )
    assert not only_id.changed
    assert await _counts(session) == before


async def test_a_paid_invoice_refuses_a_change_but_not_the_same_data(
    session: AsyncSession,
) -> None:
    customer_id = await _customer(session)
    invoice = (await upsert_invoice(session, data=_invoice(), actor_id=None)).row
    request = PaymentRequest(
        reference="upsert-paid-1",
        customer_id=customer_id,
        currency="NOK",
        amount=invoice.total,
        description="test",
        origin="staff",
        expires_at=utcnow() + timedelta(hours=1),
    )
    session.add(request)
    await session.flush()
    await ledger.allocate_payment(
        session,
        payment_request_id=request.id,
        customer_id=customer_id,
        amount=Money(invoice.total, "NOK"),
        invoice_ids=[invoice.id],
    )
    same = await upsert_invoice(session, data=_invoice(), actor_id=None)
    assert not same.changed
    with pytest.raises(Conflict) as refused:
        await upsert_invoice(session, data=_invoice(note="changed"), actor_id=None)
    assert refused.value.code == "invoice_has_payments"
    with pytest.raises(Conflict) as void_refused:
        await void_invoice(session, invoice_id=invoice.id, actor_id=None)
    assert void_refused.value.code == "invoice_has_payments"


async def test_an_unknown_customer_is_named_by_its_field(session: AsyncSession) -> None:
    with pytest.raises(NotFound) as by_external:
        await upsert_invoice(session, data=_invoice(customer_external_id="nobody"), actor_id=None)
    assert by_external.value.field == "customer_external_id"
    with pytest.raises(NotFound) as by_id:
        await upsert_invoice(
            session, data=_invoice(customer_external_id=None, customer_id=999_999), actor_id=None
        )
    assert by_id.value.field == "customer_id"


async def test_an_invoice_keeps_its_customer(session: AsyncSession) -> None:
    await _customer(session)
    await upsert_customer(
        session, data=CustomerUpsert(external_id="ERP-2", name="Other AS"), actor_id=None
    )
    await upsert_invoice(session, data=_invoice(), actor_id=None)
    with pytest.raises(ValidationFailed) as refused:
        await upsert_invoice(session, data=_invoice(customer_external_id="ERP-2"), actor_id=None)
    assert refused.value.field == "customer_id"


async def test_a_void_invoice_stays_void_and_refuses_changes(session: AsyncSession) -> None:
    await _customer(session)
    invoice = (await upsert_invoice(session, data=_invoice(), actor_id=None)).row
    await void_invoice(session, invoice_id=invoice.id, actor_id=None)
    again = await void_invoice(session, invoice_id=invoice.id, actor_id=None)
    assert again.voided_at is not None
    with pytest.raises(Conflict) as refused:
        await upsert_invoice(session, data=_invoice(note="late"), actor_id=None)
    assert refused.value.code == "invoice_void"
