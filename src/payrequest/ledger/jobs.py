"""Background work of the ledger: applying customer credit automatically, for each
organisation whose owner switched it on (`Organisation.auto_apply_credit`, in Settings →
Organisation; PAYREQUEST_LEDGER__AUTO_APPLY_CREDIT is only the first organisation's value when
organisations are made, see docs/deployment.md, "Upgrading a single business").

A periodic job, not a step inside the transaction that created the credit or the invoice:
credit comes from a capture (payment_requests.apply, above the ledger) and invoices from
invoices.service (below it), and neither should wait on the other's locks. The job looks for
customers with live credit and an open invoice in the same currency, and applies it oldest due
first under the same locks as staff do (credit rows, then invoice rows, then the question which
invoices a payment request is collecting), so credit never lands on an invoice a request is
collecting, and an invoice that was in a request gets the credit once the request has ended.

The periodic job is always installed, runs for all organisations and only looks: each
organisation that has the setting on and credit to place gets a job of its own
(`AUTO_APPLY_ONE_JOB`, one row per organisation, queued again when needed), which applies it
acting for that organisation (db.scope), unless the setting was switched off meanwhile.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers.models import Customer
from payrequest.db.scope import organisation_of
from payrequest.jobs.handlers import JobHandlers
from payrequest.jobs.rearm import enqueue_or_rearm
from payrequest.ledger import credit
from payrequest.ledger.targets import InRequests
from payrequest.organisations.models import Organisation

AUTO_APPLY_JOB = "ledger.apply_credit"  # periodic, for all organisations: hands out the work
AUTO_APPLY_ONE_JOB = "ledger.apply_credit_for"  # one organisation's credit
AUTO_APPLY_EVERY = timedelta(seconds=5)
AUTO_APPLY_ATTEMPTS = 5
BATCH = 100  # customers per run; the next run takes the rest


def install(handlers: JobHandlers, *, in_requests: InRequests) -> None:
    @handlers.periodic(AUTO_APPLY_JOB, every=AUTO_APPLY_EVERY)
    async def hand_out(session: AsyncSession, _payload: dict[str, Any]) -> None:
        await hand_out_credit(session)

    @handlers.job(AUTO_APPLY_ONE_JOB, max_attempts=AUTO_APPLY_ATTEMPTS)
    async def apply_credit(session: AsyncSession, _payload: dict[str, Any]) -> None:
        if await switched_on(session):
            await apply_credit_everywhere(session, in_requests=in_requests)


async def switched_on(session: AsyncSession) -> bool:
    """Whether the organisation the session acts for applies credit by itself."""
    return bool(
        await session.scalar(
            select(Organisation.auto_apply_credit).where(
                Organisation.id == organisation_of(session.sync_session)
            )
        )
    )


async def hand_out_credit(session: AsyncSession, *, limit: int = BATCH) -> list[int]:
    """In a session acting for all organisations: queue `AUTO_APPLY_ONE_JOB` for every
    organisation that applies credit by itself and has credit to place; returns their ids."""
    customers = {
        customer_id
        for customer_id, _ in await credit.credit_to_place(
            session, limit=limit, automatic_only=True
        )
    }
    if not customers:
        return []
    organisations = sorted(
        set(
            await session.scalars(
                select(Customer.organisation_id).where(Customer.id.in_(customers)).distinct()
            )
        )
    )
    for organisation in organisations:
        await enqueue_or_rearm(
            session,
            kind=AUTO_APPLY_ONE_JOB,
            payload={},
            dedupe_key=f"apply-credit:organisation:{organisation}",
            max_attempts=AUTO_APPLY_ATTEMPTS,
            organisation_id=organisation,
        )
    return organisations


async def apply_credit_everywhere(
    session: AsyncSession, *, in_requests: InRequests, limit: int = BATCH
) -> int:
    """Apply every customer's live credit to their open invoices, in the organisation the
    session acts for; how many got some."""
    applied = 0
    for customer_id, currency in await credit.credit_to_place(session, limit=limit):
        result = await credit.apply_automatically(
            session, customer_id=customer_id, currency=currency, in_requests=in_requests
        )
        applied += result is not None
    return applied
