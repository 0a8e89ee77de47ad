from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from payrequest.ledger.allocation import OpenInvoice, plan_allocation

open_invoices = st.lists(
    st.builds(
        OpenInvoice,
        invoice_id=st.integers(1, 10**6),
        due_date=st.dates(date(2026, 1, 1), date(2027, 12, 31)),
        open_amount=st.integers(0, 10**8),
    ),
    max_size=20,
    unique_by=lambda i: i.invoice_id,
)


@given(amount=st.integers(0, 10**9), invoices=open_invoices)
def test_allocation_conserves_money_and_respects_open_amounts(
    amount: int, invoices: list[OpenInvoice]
) -> None:
    plan = plan_allocation(amount, invoices)
    assert plan.allocated + plan.leftover == amount
    opens = {i.invoice_id: i.open_amount for i in invoices}
    for invoice_id, part in plan.parts:
        assert 0 < part <= opens[invoice_id]
    assert plan.leftover == max(0, amount - sum(opens.values()))


@given(amount=st.integers(0, 10**9), invoices=open_invoices)
def test_oldest_due_date_is_paid_first(amount: int, invoices: list[OpenInvoice]) -> None:
    plan = plan_allocation(amount, invoices)
    paid = dict(plan.parts)
    ordered = sorted(invoices, key=lambda i: (i.due_date, i.invoice_id))
    # Once an invoice is not fully paid, no later-due invoice received anything.
    seen_short = False
    for invoice in ordered:
        if invoice.open_amount == 0:
            continue
        if seen_short:
            assert invoice.invoice_id not in paid
        if paid.get(invoice.invoice_id, 0) < invoice.open_amount:
            seen_short = True


def test_worked_example_with_overpayment() -> None:
    d = date(2026, 11, 1)
    plan = plan_allocation(
        50_000,
        [
            OpenInvoice(2, d + timedelta(days=10), 30_000),
            OpenInvoice(1, d, 15_000),
        ],
    )
    assert plan.parts == ((1, 15_000), (2, 30_000))
    assert plan.leftover == 5_000
