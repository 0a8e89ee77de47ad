"""Announcing the invoices a payment paid only part of (`invoice.partially_paid`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from payrequest.events import names
from payrequest.events.announcements import Announcement
from payrequest.invoices.models import Invoice
from payrequest.ledger.models import Allocation


def partly_paid(
    allocations: Iterable[Allocation], settled: Iterable[Invoice], **source: Any
) -> list[Announcement]:
    """One `invoice.partially_paid` for each invoice these allocations paid something of
    without settling it (`settled`: the invoices they left fully paid), with the amount paid
    now; `source` says what paid it (as the `invoice.paid` announcements do)."""
    done = {invoice.id for invoice in settled}
    paid: dict[int, tuple[int, str]] = {}
    for allocation in allocations:
        if allocation.invoice_id in done or allocation.amount <= 0:
            continue
        before, _ = paid.get(allocation.invoice_id, (0, allocation.currency))
        paid[allocation.invoice_id] = (before + allocation.amount, allocation.currency)
    return [
        Announcement(
            names.INVOICE_PARTIALLY_PAID,
            "invoice",
            invoice_id,
            {"amount": amount, "currency": currency, **source},
        )
        for invoice_id, (amount, currency) in sorted(paid.items())
    ]
