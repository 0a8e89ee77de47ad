"""The audit log records money movements where the domain commands do them, so the admin,
the CLI and the jobs all record alike: a send (who asked), a cancel, a refund and a
payment received by hand."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.audit.models import AuditEntry
from payrequest.kit.money import Money
from payrequest.ledger import manual
from payrequest.ledger.manual import NewManualPayment
from payrequest.payment_requests import apply, refunds, workflows
from payrequest.payment_requests.repository import invoices_in_active_requests
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.payment_requests.state import Status
from payrequest.providers.base import (
    Capabilities,
    OneProvider,
    PaymentNotFound,
    PaymentProvider,
    PaymentSnapshot,
    ProviderState,
)
from payrequest.users import service as users
from tests.factories import make_customer, make_invoice

Sessions = async_sessionmaker[AsyncSession]
LIFETIME = Lifetime(24 * 60, Capabilities(long_living=True, max_lifetime_minutes=60 * 24 * 60))


class NeverSent:
    """A provider that never got the payment: cancelling is then ours alone."""

    name = "vipps"  # what the request stored

    async def cancel(self, reference: str, *, idempotency_key: str) -> Any:
        raise PaymentNotFound("no such payment", code="5090")


async def test_send_cancel_refund_and_a_manual_payment_are_recorded(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        staff = await users.create_user(session, email="kari@example.no", password="x" * 12)
        customer = await make_customer(session)
        first, second = await make_invoice(session, customer), await make_invoice(session, customer)
        paid = await create_request(
            session,
            data=NewPaymentRequest(
                customer_id=customer.id, invoice_ids=[first.id], created_by_user_id=staff.id
            ),
            lifetime=LIFETIME,
        )
        waiting = await create_request(
            session,
            data=NewPaymentRequest(customer_id=customer.id, invoice_ids=[second.id]),
            lifetime=LIFETIME,
        )
        await apply.apply_outcome(
            session, reference=paid.reference, target=Status.pending, source="system"
        )
        amount = Money(paid.amount, paid.currency)
        await apply.apply_snapshot(
            session,
            snapshot=PaymentSnapshot(
                paid.reference, ProviderState.authorized, amount, paid.amount, paid.amount, 0, 0
            ),
            source="poll",
        )
    async with sessions() as session, session.begin():
        await refunds.request_refund(
            session, payment_request_id=paid.id, amount=1_000, user_id=staff.id, reason="Dent"
        )
    never_sent = cast(PaymentProvider, NeverSent())
    await workflows.cancel(
        sessions, OneProvider(never_sent), request_id=waiting.id, user_id=staff.id
    )
    async with sessions() as session, session.begin():
        await manual.record(
            session,
            data=NewManualPayment(
                customer_id=customer.id,
                amount=Money(500, paid.currency),
                received_on=date(2026, 11, 2),
                method="bank_transfer",
                recorded_by=staff.id,
            ),
            in_requests=invoices_in_active_requests,
        )
    async with sessions() as session:
        entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    # The money movements only (the factories' customer and invoice are recorded too).
    entries = [e for e in entries if not e.action.startswith(("customer.", "invoice."))]
    seen = [(e.action, e.user_id, e.subject_id) for e in entries]
    assert seen == [
        ("payment_request.send", staff.id, paid.id),
        ("payment_request.send", None, waiting.id),
        ("payment.refund", staff.id, paid.id),
        ("payment_request.cancel", staff.id, waiting.id),
        ("manual_payment.record", staff.id, customer.id),
    ]
    assert entries[0].details["reference"] == paid.reference
    assert entries[2].details["amount"] == 1_000 and entries[2].details["reason"] == "Dent"
