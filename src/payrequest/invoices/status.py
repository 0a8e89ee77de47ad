"""An invoice's status is derived from its total, what has been allocated, and void."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class InvoiceStatus(StrEnum):
    open = "open"
    partially_paid = "partially_paid"
    paid = "paid"
    void = "void"


@dataclass(frozen=True, slots=True)
class InvoiceBalance:
    total: int
    allocated: int
    voided: bool
    due_date: date

    @property
    def open_amount(self) -> int:
        return 0 if self.voided else max(self.total - self.allocated, 0)

    @property
    def status(self) -> InvoiceStatus:
        if self.voided:
            return InvoiceStatus.void
        if self.allocated >= self.total:
            return InvoiceStatus.paid
        if self.allocated > 0:
            return InvoiceStatus.partially_paid
        return InvoiceStatus.open

    def is_overdue(self, today: date) -> bool:
        return self.open_amount > 0 and self.due_date < today
