"""How captured money is split across invoices: oldest due date first, each up to what is open.

Pure arithmetic; the service writes the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from payrequest.errors import N_

# Why the rest of a payment became credit (a message id, translated where it is shown).
LEFTOVER_REASON = N_("Paid more than was open on the invoices")


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    invoice_id: int
    due_date: date
    open_amount: int


@dataclass(frozen=True, slots=True)
class AllocationPlan:
    parts: tuple[tuple[int, int], ...]  # (invoice_id, amount), amounts > 0
    leftover: int  # becomes customer credit

    @property
    def allocated(self) -> int:
        return sum(amount for _, amount in self.parts)


def plan_allocation(amount: int, invoices: Sequence[OpenInvoice]) -> AllocationPlan:
    """Split `amount` (minor units, >= 0) over `invoices`; what no invoice needs is leftover."""
    if amount < 0:
        raise ValueError("cannot allocate a negative amount")
    remaining = amount
    parts: list[tuple[int, int]] = []
    for invoice in sorted(invoices, key=lambda i: (i.due_date, i.invoice_id)):
        if remaining == 0:
            break
        share = min(remaining, max(invoice.open_amount, 0))
        if share > 0:
            parts.append((invoice.invoice_id, share))
            remaining -= share
    return AllocationPlan(parts=tuple(parts), leftover=remaining)


@dataclass(frozen=True, slots=True)
class CreditPart:
    credit_id: int
    invoice_id: int
    amount: int  # > 0


def plan_credit_application(
    credits: Sequence[tuple[int, int]], invoices: Sequence[OpenInvoice], *, limit: int
) -> tuple[CreditPart, ...]:
    """Spend credits `(credit_id, available)`, oldest credit first, on `invoices`, oldest due
    first, each invoice up to its open amount, `limit` (minor units, >= 0) in all."""
    if limit < 0:
        raise ValueError("cannot apply a negative amount")
    wallet = [[credit_id, available] for credit_id, available in sorted(credits) if available > 0]
    plan = plan_allocation(min(limit, sum(available for _, available in wallet)), invoices)
    parts: list[CreditPart] = []
    for invoice_id, need in plan.parts:
        while need:
            credit = wallet[0]
            take = min(need, credit[1])
            parts.append(CreditPart(credit[0], invoice_id, take))
            need -= take
            credit[1] -= take
            if credit[1] == 0:
                wallet.pop(0)
    return tuple(parts)
