"""Invoice commands that ask the ledger and the payment requests first: upsert by external id,
change some fields, update, void. Each is refused, changing nothing, while money has been
applied to the invoice or a payment request waits for the customer to pay it
(invoices.service's rules)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.errors import Conflict, NotFound
from payrequest.invoices import repository as invoices
from payrequest.invoices import service as invoice_service
from payrequest.invoices import upsert
from payrequest.invoices.models import Invoice
from payrequest.invoices.schemas import InvoiceChanges, InvoiceInput, InvoiceUpsert
from payrequest.invoices.upsert import InvoiceUsage
from payrequest.kit.upserted import Upserted
from payrequest.ledger import repository as ledger_repo
from payrequest.ledger import service as ledger
from payrequest.payment_requests import read as requests_read
from payrequest.payment_requests import repository as requests_repo


async def invoice_usage(session: AsyncSession, invoice_id: int) -> InvoiceUsage:
    """What the ledger and the payment requests know of an invoice that limits its changes."""
    allocations = await ledger_repo.allocations_for_invoice(session, invoice_id)
    return InvoiceUsage(
        allocated=sum(a.amount for a in allocations if a.amount > 0),
        in_active_request=bool(await requests_repo.active_for_invoices(session, [invoice_id])),
        in_any_request=bool(await requests_read.asking_for_invoice(session, invoice_id)),
    )


async def upsert_invoice(
    session: AsyncSession, *, data: InvoiceUpsert, actor_id: int | None
) -> Upserted[Invoice]:
    """Create or change the invoice with `data.external_id` (invoices.upsert)."""
    return await upsert.upsert_invoice(session, data=data, actor_id=actor_id, usage=invoice_usage)


async def change_invoice(
    session: AsyncSession, *, invoice_id: int, data: InvoiceChanges, actor_id: int | None
) -> Upserted[Invoice]:
    """Change the fields `data` gives (invoices.upsert.change_invoice)."""
    return await upsert.change_invoice(
        session, invoice_id=invoice_id, data=data, actor_id=actor_id, usage=invoice_usage
    )


async def update_invoice(
    session: AsyncSession, *, invoice_id: int, data: InvoiceInput, actor_id: int | None
) -> Invoice:
    """Replace an open invoice's content (invoices.service.update_invoice), the invoice locked
    while its usage is read."""
    if await invoices.lock(session, invoice_id) is None:
        raise NotFound("No such invoice")
    used = await invoice_usage(session, invoice_id)
    return await invoice_service.update_invoice(
        session,
        invoice_id=invoice_id,
        data=data,
        allocated=used.allocated,
        in_active_request=used.in_active_request,
        in_any_request=used.in_any_request,
        actor_id=actor_id,
    )


async def void_invoice(session: AsyncSession, *, invoice_id: int, actor_id: int | None) -> Invoice:
    """Void an invoice nobody has paid on and no payment request is collecting; voiding one
    already void changes nothing."""
    invoice = await invoices.lock(session, invoice_id)
    if invoice is None:
        raise NotFound("No such invoice")
    if invoice.voided_at is None and await requests_repo.active_for_invoices(session, [invoice_id]):
        raise Conflict(
            "Invoice %(number)s is in a payment request waiting for the customer; "
            "cancel the request before changing the invoice",
            code="invoice_busy",
            number=invoice.number,
        )
    return await ledger.void_invoice(session, invoice_id=invoice_id, actor_id=actor_id)
