"""How captured money is split across invoices: oldest due date first, each up to what is open.

Pure arithmetic; the service writes the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date


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
