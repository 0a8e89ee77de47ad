"""Payment requests in bulk: one per customer of the organisation with open invoices matching a
filter (`payment_requests.bulk`: resumable, each request created and sent like any other).
The command line's `payrequest requests send-bulk` calls these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from payrequest.errors import PayrequestError
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.payment_requests import bulk
from payrequest.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Batch:
    """Which customers' invoices a batch asks for, as the caller chose."""

    currency: str | None = None  # None: the one currency the organisation's provider takes
    overdue_only: bool = False  # only invoices past their due date
    min_amount: Decimal = Decimal(0)  # skip customers whose eligible total is below (major units)
    customer_numbers: tuple[str, ...] = ()  # only these customers (none: every customer)
    batch_id: str | None = None  # None: derived from the filter and today (the same all day)


async def resolved(runtime: Runtime, batch: Batch) -> tuple[bulk.BulkFilter, str]:
    """The batch's filter and id. Without a currency, the one currency of the organisation's
    own provider; a provider taking several asks for one to be chosen."""
    currency = (batch.currency or "").upper()
    if not currency:
        known = sorted((await runtime.providers.default()).capabilities.currencies)
        if len(known) != 1:
            raise PayrequestError("Choose --currency (%(currencies)s)", currencies=known)
        currency = known[0]
    spec = bulk.BulkFilter(
        currency=currency,
        overdue_only=batch.overdue_only,
        min_amount=Money.from_decimal(batch.min_amount, currency).amount,
        customer_numbers=batch.customer_numbers,
    )
    return spec, bulk.clean_batch_id(batch.batch_id or spec.derived_batch_id(utcnow().date()))


async def plan(runtime: Runtime, batch: Batch) -> bulk.Plan:
    """What the batch would send, sending nothing (a dry run)."""
    spec, batch_id = await resolved(runtime, batch)
    async with runtime.read_sessions() as session:
        return await bulk.plan(session, bulk_filter=spec, batch_id=batch_id)


async def send(
    runtime: Runtime,
    batch: Batch,
    *,
    concurrency: int = 8,
    on_planned: Callable[[bulk.Plan], None] | None = None,
    on_done: Callable[[bulk.Planned, str], None] | None = None,
    stop_after: int | None = None,
) -> bulk.Summary:
    """Create and send the batch, `concurrency` customers at once; run it again to resume."""
    spec, batch_id = await resolved(runtime, batch)
    return await bulk.run(
        runtime.sessions,
        runtime.providers,
        lifetime=await runtime.lifetime(),
        bulk_filter=spec,
        batch_id=batch_id,
        concurrency=concurrency,
        return_url=runtime.urls.portal_returned(),
        on_planned=on_planned,
        on_done=on_done,
        stop_after=stop_after,
    )
