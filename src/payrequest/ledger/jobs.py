"""Background work of the ledger: applying customer credit automatically, when the setting
`PAYREQUEST_LEDGER__AUTO_APPLY_CREDIT` is on.

A periodic job, not a step inside the transaction that created the credit or the invoice:
credit comes from a capture (payment_requests.apply, above the ledger) and invoices from
invoices.service (below it), and neither should wait on the other's locks. The job looks for
customers with live credit and an open invoice in the same currency, and applies it oldest due
first under the same locks as staff do (credit rows, then invoice rows, then the question which
invoices a payment request is collecting), so credit never lands on an invoice a request is
collecting, and an invoice that was in a request gets the credit once the request has ended.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.jobs.handlers import JobHandlers
from payrequest.ledger import credit
from payrequest.ledger.targets import InRequests

AUTO_APPLY_JOB = "ledger.apply_credit"
AUTO_APPLY_EVERY = timedelta(seconds=5)
BATCH = 100  # customers per run; the next run takes the rest


def install(handlers: JobHandlers, *, in_requests: InRequests, auto_apply: bool) -> None:
    if not auto_apply:
        return

    @handlers.periodic(AUTO_APPLY_JOB, every=AUTO_APPLY_EVERY)
    async def apply_credit(session: AsyncSession, _payload: dict[str, Any]) -> None:
        await apply_credit_everywhere(session, in_requests=in_requests)


async def apply_credit_everywhere(
    session: AsyncSession, *, in_requests: InRequests, limit: int = BATCH
) -> int:
    """Apply every customer's live credit to their open invoices; how many got some."""
    applied = 0
    for customer_id, currency in await credit.credit_to_place(session, limit=limit):
        result = await credit.apply_automatically(
            session, customer_id=customer_id, currency=currency, in_requests=in_requests
        )
        applied += result is not None
    return applied
