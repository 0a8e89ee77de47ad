"""The VAT in what was paid on an invoice: per rate, all of it or in proportion."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from payrequest.invoices.models import Invoice, InvoiceLine
from payrequest.invoices.vat import VatRow, add_up, paid_by_rate, vat_in_part


def _invoice(*lines: tuple[int, int]) -> Invoice:
    """Lines of (net, VAT rate in basis points); VAT rounded half up as invoices do."""
    built = [
        InvoiceLine(
            position=n,
            description="x",
            quantity_milli=1000,
            unit_price=net,
            vat_rate_bp=rate,
            net_amount=net,
            vat_amount=(net * rate + 5000) // 10_000,
        )
        for n, (net, rate) in enumerate(lines, start=1)
    ]
    return Invoice(number="1", currency="NOK", total=sum(line.total for line in built), lines=built)


def test_an_invoice_paid_in_full_shows_its_lines_vat_per_rate() -> None:
    invoice = _invoice((80_000, 2500), (10_000, 1500), (4_000, 2500))
    assert paid_by_rate(invoice, invoice.total) == [
        VatRow(1500, net=10_000, vat=1_500),
        VatRow(2500, net=84_000, vat=21_000),
    ]


def test_a_part_carries_vat_in_proportion_split_across_the_rates() -> None:
    invoice = _invoice((80_000, 2500), (10_000, 1500))  # 100 000 + 11 500 = 111 500
    rows = paid_by_rate(invoice, 55_750)  # half
    assert rows == [VatRow(1500, net=5_000, vat=750), VatRow(2500, net=40_000, vat=10_000)]
    assert sum(r.vat for r in rows) == vat_in_part(invoice, 55_750) == 10_750


@given(
    lines=st.lists(
        st.tuples(st.integers(1, 10_000_000), st.sampled_from([0, 1000, 1200, 1500, 2500])),
        min_size=1,
        max_size=6,
    ),
    share=st.floats(0.0001, 1.0),
)
def test_the_rows_add_up_to_exactly_the_part_and_its_vat(
    lines: list[tuple[int, int]], share: float
) -> None:
    invoice = _invoice(*lines)
    part = max(1, int(invoice.total * share))
    rows = paid_by_rate(invoice, part)
    assert sum(r.total for r in rows) == part
    assert sum(r.vat for r in rows) == vat_in_part(invoice, part)
    assert [r.rate_bp for r in rows] == sorted({rate for _net, rate in lines})


def test_rows_of_several_invoices_add_up_per_rate() -> None:
    rows = add_up([VatRow(2500, 100, 25), VatRow(1500, 100, 15), VatRow(2500, 40, 10)])
    assert rows == [VatRow(1500, 100, 15), VatRow(2500, 140, 35)]
