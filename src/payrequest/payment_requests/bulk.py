"""Bulk send: one payment request per customer with open invoices matching a filter.

Every request of a batch gets a deterministic reference, `bulk-<batch>-<customer>`, and so a
deterministic idempotency key (`references.idempotency_key`, derived from the reference). That
makes a batch resumable after a crash: running it again finds the batch's requests by their
reference prefix, skips those that exist and are past `sending`, sends again those still
`sending` (same key: the provider answers with the payment it already has), and creates the
rest. The unique reference stops two runs from creating the same customer's request twice.

Requests are created and sent one customer at a time through the normal service and workflow
(`create_request`, then `workflows.send` after the commit), `concurrency` customers at once.
When the provider answers that the account cannot take payments at all, the batch stops:
nothing more is sent (the others would be refused the same way) until a re-run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.customers.models import Customer
from payrequest.errors import PayrequestError, ValidationFailed
from payrequest.invoices.models import Invoice
from payrequest.kit.clock import utcnow
from payrequest.ledger.repository import open_amount
from payrequest.payment_requests import repository, workflows
from payrequest.payment_requests.models import PaymentRequest, PaymentRequestInvoice
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.payment_requests.state import Status
from payrequest.providers.base import AccountRefusal, PaymentProviders, ProviderError

Sessions = async_sessionmaker[AsyncSession]
PREFIX = "bulk"
MAX_INVOICES = 200  # a request links at most this many invoices (NewPaymentRequest)
_UNSAFE = re.compile(r"[^a-zA-Z0-9]+")
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class BulkFilter:
    currency: str
    overdue_only: bool = False
    min_amount: int = 0  # minor units: a customer's eligible total must reach this
    customer_numbers: tuple[str, ...] = ()

    def derived_batch_id(self, today: date) -> str:
        """The same filter on the same day is the same batch (8 hex digits)."""
        spec = {
            "currency": self.currency,
            "overdue_only": self.overdue_only,
            "min_amount": self.min_amount,
            "customers": sorted(self.customer_numbers),
            "day": today.isoformat(),
        }
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:8]


def clean_batch_id(batch_id: str) -> str:
    cleaned = _UNSAFE.sub("", batch_id)[:16]
    if not cleaned:
        raise ValidationFailed("A batch id needs letters or digits", field="batch")
    return cleaned


def batch_prefix(batch_id: str) -> str:
    return f"{PREFIX}-{batch_id}-"


def reference_for(batch_id: str, customer_number: str) -> str:
    """`bulk-<batch>-<customer number>`; a hash suffix keeps odd numbers distinct and short."""
    customer = _UNSAFE.sub("", customer_number)
    if customer != customer_number or len(customer) > 24 or not customer:
        digest = hashlib.sha256(customer_number.encode()).hexdigest()[:8]
        customer = f"{customer[:24]}-{digest}" if customer else digest
    return f"{batch_prefix(batch_id)}{customer}"


@dataclass(frozen=True, slots=True)
class Planned:
    customer_id: int
    customer_number: str
    customer_name: str
    reference: str
    invoice_ids: tuple[int, ...]
    amount: int  # minor units, the eligible open total
    currency: str
    phone: str | None
    resend: bool = False  # the request exists and is still `sending`


@dataclass(frozen=True, slots=True)
class Plan:
    batch_id: str
    items: list[Planned]  # to create and send, or to send again
    already_done: int  # requests of this batch that exist and are past `sending`


@dataclass
class Summary:
    batch_id: str
    planned: int = 0
    sent: int = 0  # reached the provider (pending, or further)
    failed: int = 0  # refused by the provider (the request is `failed`)
    skipped: int = 0  # could not be created (an invoice became busy, ...): see `problems`
    retry_later: int = 0  # provider unreachable: the send job and a re-run will retry
    already_done: int = 0
    problems: list[str] = field(default_factory=list)
    # The provider account cannot take payments at all (the refusal's message): the rest of
    # the batch was not sent; a re-run sends it once someone has fixed the account.
    stopped: str | None = None

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.skipped + self.retry_later


class BulkInterrupted(Exception):
    """Raised by `stop_after`: simulates a crash in the middle of a batch."""


async def plan(
    session: AsyncSession, *, bulk_filter: BulkFilter, batch_id: str, today: date | None = None
) -> Plan:
    """What running the batch now would do."""
    prefix = batch_prefix(batch_id)
    existing = dict(
        (
            await session.execute(
                select(PaymentRequest.reference, PaymentRequest.status).where(
                    PaymentRequest.reference.like(prefix + "%")
                )
            )
        ).all()
    )
    items = [
        item
        for item in await _eligible(session, bulk_filter, batch_id, today or utcnow().date())
        if item.reference not in existing
    ]
    resend = [r for r, status in existing.items() if status == Status.sending]
    items.extend(await _resend_items(session, resend))
    done = sum(1 for status in existing.values() if status != Status.sending)
    return Plan(batch_id, items, done)


async def _eligible(
    session: AsyncSession, bulk_filter: BulkFilter, batch_id: str, today: date
) -> list[Planned]:
    remaining = open_amount()
    busy = exists().where(
        and_(PaymentRequestInvoice.invoice_id == Invoice.id, PaymentRequestInvoice.active)
    )
    stmt = (
        select(
            Customer.id,
            Customer.number,
            Customer.name,
            Customer.phone,
            Invoice.id,
            remaining,
        )
        .join(Invoice, Invoice.customer_id == Customer.id)
        .where(
            Invoice.voided_at.is_(None),
            Invoice.currency == bulk_filter.currency,
            remaining > 0,
            ~busy,
        )
        .order_by(Customer.number, Invoice.due_date, Invoice.id)
    )
    if bulk_filter.overdue_only:
        stmt = stmt.where(Invoice.due_date < today)
    if bulk_filter.customer_numbers:
        stmt = stmt.where(Customer.number.in_(bulk_filter.customer_numbers))
    grouped: dict[int, tuple[str, str, str | None, list[int], int]] = {}
    for customer_id, number, name, phone, invoice_id, amount in await session.execute(stmt):
        entry = grouped.setdefault(customer_id, (number, name, phone, [], 0))
        if len(entry[3]) >= MAX_INVOICES:
            continue  # the rest waits for the next batch
        entry[3].append(invoice_id)
        grouped[customer_id] = (number, name, phone, entry[3], entry[4] + int(amount))
    return [
        Planned(
            customer_id=customer_id,
            customer_number=number,
            customer_name=name,
            reference=reference_for(batch_id, number),
            invoice_ids=tuple(ids),
            amount=amount,
            currency=bulk_filter.currency,
            phone=phone,
        )
        for customer_id, (number, name, phone, ids, amount) in grouped.items()
        if amount >= bulk_filter.min_amount
    ]


async def _resend_items(session: AsyncSession, references: Sequence[str]) -> list[Planned]:
    items: list[Planned] = []
    for start in range(0, len(references), _CHUNK):
        chunk = references[start : start + _CHUNK]
        rows = await session.execute(
            select(
                PaymentRequest.reference,
                PaymentRequest.customer_id,
                Customer.number,
                Customer.name,
                PaymentRequest.amount,
                PaymentRequest.currency,
                PaymentRequest.phone,
            )
            .join(Customer, Customer.id == PaymentRequest.customer_id)
            .where(PaymentRequest.reference.in_(chunk))
        )
        for reference, customer_id, number, name, amount, currency, phone in rows:
            items.append(
                Planned(customer_id, number, name, reference, (), amount, currency, phone, True)
            )
    return sorted(items, key=lambda item: item.customer_number)


async def _sent_or_refused(sessions: Sessions, reference: str, summary: Summary) -> str:
    """ "sent" or "failed"; a refusal saying the account cannot take payments stops the batch
    (`summary.stopped`): every other request would be refused the same way."""
    async with sessions() as session:
        request = await repository.by_reference(session, reference)
        assert request is not None
        if request.status != Status.failed:
            return "sent"
        refused = await repository.refusal(session, request.id)
    if refused is AccountRefusal.no_payments and summary.stopped is None:
        summary.stopped = request.failure_message or refused.value
        summary.problems.append(
            f"stopped: {summary.stopped} The rest was not sent; run the batch again once this "
            "is fixed."
        )
    return "failed"


async def run(
    sessions: Sessions,
    providers: PaymentProviders,
    *,
    lifetime: Lifetime,
    bulk_filter: BulkFilter,
    batch_id: str,
    concurrency: int = 8,
    return_url: str | None = None,
    created_by_user_id: int | None = None,
    on_planned: Callable[[Plan], None] | None = None,
    on_done: Callable[[Planned, str], None] | None = None,
    stop_after: int | None = None,
) -> Summary:
    """Create and send the batch; safe to run again after any crash (see the module doc)."""
    async with sessions() as session:
        the_plan = await plan(session, bulk_filter=bulk_filter, batch_id=batch_id)
    if on_planned is not None:
        on_planned(the_plan)
    summary = Summary(batch_id, planned=len(the_plan.items), already_done=the_plan.already_done)
    pending = iter(the_plan.items)
    finished = 0

    async def one(item: Planned) -> str:
        if not item.resend:
            try:
                async with sessions() as session, session.begin():
                    await create_request(
                        session,
                        data=NewPaymentRequest(
                            customer_id=item.customer_id,
                            invoice_ids=list(item.invoice_ids),
                            phone=item.phone,
                            origin="bulk",
                            created_by_user_id=created_by_user_id,
                            reference=item.reference,
                        ),
                        lifetime=lifetime,
                    )
            except IntegrityError:
                pass  # another run created it just now: send it (same idempotency key)
            except PayrequestError as exc:
                summary.problems.append(f"{item.customer_number}: {exc.message}")
                return "skipped"
        try:
            await workflows.send(
                sessions, providers, reference=item.reference, return_url=return_url
            )
        except ProviderError as exc:
            summary.problems.append(f"{item.customer_number}: {exc.message} (will retry)")
            return "retry_later"
        return await _sent_or_refused(sessions, item.reference, summary)

    async def worker() -> None:
        nonlocal finished
        for item in pending:  # a shared iterator: each item is taken by one worker
            if stop_after is not None and finished >= stop_after:
                raise BulkInterrupted(f"stopped after {finished} requests")
            if summary.stopped is not None:
                return
            outcome = await one(item)
            setattr(summary, outcome, getattr(summary, outcome) + 1)
            finished += 1
            if on_done is not None:
                on_done(item, outcome)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, min(concurrency, len(the_plan.items)))):
                group.create_task(worker())
    except BaseExceptionGroup as errors:
        raise errors.exceptions[0] from None  # the others were cancelled with it
    return summary
