"""Invoices: create, change while nobody has paid on it and no request waits on it, void.

What the invoice rules need from elsewhere (money allocated to it: the ledger; whether a
payment request asks for it: payment requests) is read here, in the transaction that changes
the invoice, with the invoice locked: an allocation or a request cannot slip in meanwhile."""

from __future__ import annotations

from payrequest.commands.missing import Missing
from payrequest.errors import Conflict
from payrequest.invoices import repository as invoices
from payrequest.invoices import service
from payrequest.invoices.models import Invoice
from payrequest.invoices.schemas import InvoiceInput
from payrequest.ledger import repository as ledger_repo
from payrequest.ledger import service as ledger
from payrequest.payment_requests import read as requests_read
from payrequest.payment_requests import repository as requests_repo
from payrequest.runtime import Runtime


async def create_invoice(
    runtime: Runtime, data: InvoiceInput, *, actor_id: int | None = None
) -> Invoice:
    """A new invoice (`invoices.service.create_invoice`: bad input writes nothing)."""
    async with runtime.sessions() as session, session.begin():
        return await service.create_invoice(session, data=data, actor_id=actor_id)


async def update_invoice(
    runtime: Runtime, invoice_id: int, data: InvoiceInput, *, actor_id: int | None = None
) -> Invoice:
    """Replace what the invoice says. Refused (Conflict, by `code`) when it is void
    (`invoice_void`), has payments on it (`invoice_has_payments`) or a request is waiting on
    it (`invoice_busy`); its currency stays once a request asked for it."""
    async with runtime.sessions() as session, session.begin():
        if await invoices.lock(session, invoice_id) is None:
            raise Missing("No such invoice")
        allocations = await ledger_repo.allocations_for_invoice(session, invoice_id)
        active = await requests_repo.active_for_invoices(session, [invoice_id])
        linked = await requests_read.asking_for_invoice(session, invoice_id)
        return await service.update_invoice(
            session,
            invoice_id=invoice_id,
            data=data,
            allocated=sum(a.amount for a in allocations if a.amount > 0),
            in_active_request=bool(active),
            in_any_request=bool(linked),
            actor_id=actor_id,
        )


async def void_invoice(
    runtime: Runtime, invoice_id: int, *, actor_id: int | None = None
) -> Invoice:
    """Void an invoice nobody has paid on (`ledger.service.void_invoice`); refused while a
    request is waiting on it (Conflict `invoice_busy`). Voiding twice changes nothing."""
    async with runtime.sessions() as session, session.begin():
        invoice = await invoices.lock(session, invoice_id)
        if invoice is None:
            raise Missing("No such invoice")
        if await requests_repo.active_for_invoices(session, [invoice_id]):
            raise Conflict(
                "Invoice %(number)s is in a payment request waiting for the customer; "
                "cancel the request before voiding the invoice",
                code="invoice_busy",
                number=invoice.number,
            )
        return await ledger.void_invoice(session, invoice_id=invoice_id, actor_id=actor_id)
