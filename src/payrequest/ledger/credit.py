"""Customer credit applied to open invoices: by staff from the card (chosen invoices or oldest
due first, up to an amount), or automatically when the setting says so (ledger.jobs).

Credit is spent oldest credit first; each allocation names the credit it came from. The
customer's live credits are locked (SELECT ... FOR UPDATE) before their balance is read, so
two people applying the same credit at once cannot both spend it: the second waits and then
finds it spent. Voided credits (an undone manual payment's) are never spent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.audit import service as audit
from payrequest.errors import Conflict, ValidationFailed
from payrequest.events import names
from payrequest.events.announcements import Announcement, announce
from payrequest.invoices.models import Invoice
from payrequest.kit.money import Money
from payrequest.ledger import repository
from payrequest.ledger.allocation import CreditPart, plan_credit_application
from payrequest.ledger.models import Allocation, Credit
from payrequest.ledger.partial import partly_paid
from payrequest.ledger.targets import InRequests, Targets, lock_targets
from payrequest.organisations.models import Organisation

STAFF = "staff"
AUTOMATIC = "automatic"


@dataclass(frozen=True, slots=True)
class Applied:
    """Credit spent on invoices by one application."""

    currency: str
    allocations: tuple[Allocation, ...]
    settled: tuple[Invoice, ...]  # invoices it left fully paid
    skipped: tuple[Invoice, ...]  # open, but a payment request is collecting them
    announcements: tuple[Announcement, ...]
    numbers: tuple[str, ...] = ()  # of the invoices it went to, oldest due first

    @property
    def amount(self) -> Money:
        return Money(sum(a.amount for a in self.allocations), self.currency)


async def apply_credit(
    session: AsyncSession,
    *,
    customer_id: int,
    currency: str,
    in_requests: InRequests,
    amount: int | None = None,
    invoice_ids: Sequence[int] | None = None,
    applied_by: int | None = None,
) -> Applied:
    """Staff apply the customer's credit in `currency` to the chosen invoices, or to the open
    ones oldest due first (`invoice_ids` None): `amount` minor units, or as much as both the
    credit and the invoices allow (None). `applied_by` (users.id) is kept on the allocations
    (`created_by_user_id`): who may take an application back (ledger.take_back) depends on it,
    and is the person the audit log names. Bad input raises and changes nothing."""
    if amount is not None and amount <= 0:
        raise ValidationFailed("The amount must be more than zero", field="amount")
    wallet = await lock_credits(session, customer_id=customer_id, currency=currency)
    available = sum(left for _, left in wallet)
    if available <= 0:
        raise Conflict(
            "There is no credit in %(currency)s to apply", code="no_credit", currency=currency
        )
    if amount is not None and amount > available:
        raise ValidationFailed(
            "At most %(limit)s of credit is available",
            field="amount",
            limit=Money(available, currency),
        )
    targets = await lock_targets(
        session,
        customer_id=customer_id,
        currency=currency,
        invoice_ids=invoice_ids,
        in_requests=in_requests,
    )
    if not targets.open:
        raise Conflict(
            "No open invoice can take the credit now", code="nothing_open", field="invoice_ids"
        )
    if amount is not None and amount > targets.open_total:
        raise ValidationFailed(
            "At most %(limit)s is open on these invoices",
            field="amount",
            limit=Money(targets.open_total, currency),
        )
    limit = available if amount is None else amount
    applied = await _spend(
        session, wallet, targets, currency=currency, limit=limit, source=STAFF, by=applied_by
    )
    await announce(session, applied.announcements, customer_id=customer_id)
    await audit.record(
        session,
        action="credit.apply",
        user_id=applied_by,
        subject_type="customer",
        subject_id=customer_id,
        details={
            "amount": applied.amount.amount,
            "currency": currency,
            "invoices": ", ".join(applied.numbers),
        },
    )
    return applied


async def apply_automatically(
    session: AsyncSession, *, customer_id: int, currency: str, in_requests: InRequests
) -> Applied | None:
    """Match the customer's credit in `currency` with their open invoices, oldest due first,
    skipping invoices a payment request is collecting. None when there was nothing to do."""
    wallet = await lock_credits(session, customer_id=customer_id, currency=currency)
    available = sum(left for _, left in wallet)
    if available <= 0:
        return None
    targets = await lock_targets(
        session,
        customer_id=customer_id,
        currency=currency,
        invoice_ids=None,
        in_requests=in_requests,
    )
    if not targets.open:
        return None
    applied = await _spend(
        session, wallet, targets, currency=currency, limit=available, source=AUTOMATIC
    )
    await announce(session, applied.announcements, customer_id=customer_id)
    return applied


async def lock_credits(
    session: AsyncSession, *, customer_id: int, currency: str
) -> list[tuple[int, int]]:
    """`(credit_id, available)` of the customer's live credits in `currency`, oldest first,
    the credit rows locked until the transaction ends."""
    await session.execute(
        select(Credit.id)
        .where(
            Credit.customer_id == customer_id,
            Credit.currency == currency,
            repository.live_credit(),
        )
        .order_by(Credit.id)
        .with_for_update()
    )
    remaining, used, refunded = repository.credit_remaining()
    stmt = (
        select(Credit.id, remaining)
        .outerjoin(used, used.c.credit_id == Credit.id)
        .outerjoin(refunded, refunded.c.credit_id == Credit.id)
        .where(
            Credit.customer_id == customer_id,
            Credit.currency == currency,
            repository.live_credit(),
        )
        .order_by(Credit.id)
    )
    return [(credit_id, int(left)) for credit_id, left in await session.execute(stmt)]


async def _spend(
    session: AsyncSession,
    wallet: list[tuple[int, int]],
    targets: Targets,
    *,
    currency: str,
    limit: int,
    source: str,
    by: int | None = None,
) -> Applied:
    parts = plan_credit_application(wallet, targets.open, limit=limit)
    allocations = tuple(
        Allocation(
            invoice_id=part.invoice_id,
            currency=currency,
            amount=part.amount,
            credit_id=part.credit_id,
            created_by_user_id=by,
        )
        for part in parts
    )
    session.add_all(allocations)
    await session.flush()
    settled = _settled(targets, parts)
    announcements = [
        Announcement(
            names.CREDIT_APPLIED,
            "credit",
            parts[0].credit_id,
            {
                "amount": sum(part.amount for part in parts),
                "currency": currency,
                "source": source,
                "by": by,
                "invoices": _per_invoice(parts),
                "credits": _per_credit(parts),
                "allocations": [a.id for a in allocations],
            },
        ),
        *(
            Announcement(
                names.INVOICE_PAID,
                "invoice",
                invoice.id,
                {"number": invoice.number, "credit": True},
            )
            for invoice in settled
        ),
        *partly_paid(allocations, settled, credit=True),
    ]
    numbers = tuple(dict.fromkeys(targets.invoices[part.invoice_id].number for part in parts))
    return Applied(currency, allocations, settled, targets.skipped, tuple(announcements), numbers)


def _settled(targets: Targets, parts: Sequence[CreditPart]) -> tuple[Invoice, ...]:
    paid = _per_invoice(parts)
    return tuple(
        targets.invoices[o.invoice_id]
        for o in targets.open
        if paid.get(str(o.invoice_id), 0) == o.open_amount
    )


def _per_invoice(parts: Sequence[CreditPart]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for part in parts:
        totals[str(part.invoice_id)] = totals.get(str(part.invoice_id), 0) + part.amount
    return totals


def _per_credit(parts: Sequence[CreditPart]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for part in parts:
        totals[str(part.credit_id)] = totals.get(str(part.credit_id), 0) + part.amount
    return totals


async def credit_to_place(
    session: AsyncSession, *, limit: int = 100, automatic_only: bool = False
) -> list[tuple[int, str]]:
    """`(customer_id, currency)` pairs with live credit left and an open invoice in that
    currency: what automatic application looks at (whether a request is collecting those
    invoices is checked under lock, per customer). `automatic_only`: only in organisations
    that apply credit by itself (`Organisation.auto_apply_credit`)."""
    remaining, used, refunded = repository.credit_remaining()
    allocated = (
        select(func.coalesce(func.sum(Allocation.amount), 0))
        .where(Allocation.invoice_id == Invoice.id)
        .scalar_subquery()
    )
    has_open = exists().where(
        and_(
            Invoice.customer_id == Credit.customer_id,
            Invoice.currency == Credit.currency,
            Invoice.voided_at.is_(None),
            Invoice.total > allocated,
        )
    )
    stmt = (
        select(Credit.customer_id, Credit.currency)
        .outerjoin(used, used.c.credit_id == Credit.id)
        .outerjoin(refunded, refunded.c.credit_id == Credit.id)
        .where(repository.live_credit(), remaining > 0, has_open)
        .group_by(Credit.customer_id, Credit.currency)
        .order_by(Credit.customer_id, Credit.currency)
        .limit(limit)
    )
    if automatic_only:
        switched_on = select(Organisation.id).where(Organisation.auto_apply_credit.is_(True))
        stmt = stmt.where(Credit.organisation_id.in_(switched_on))
    return [(customer_id, currency) for customer_id, currency in await session.execute(stmt)]
