"""Receipt lines as Vipps MobilePay reads them (docs/vipps.md#receipts): the unit price
includes tax, the tax rate is in hundredths of a percent, a quantity fits the field or is sent
as one unit at the line's total."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from payrequest.invoices.lines import QUANTITY_SCALE, line_amounts
from payrequest.invoices.models import Invoice, InvoiceLine
from payrequest.kit.money import Money
from payrequest.payment_requests.receipt import order_lines
from payrequest.providers.base import CreatePayment, OrderLine, UserFlow
from payrequest.providers.vipps import wire
from tests.contract.checker import checker

MAX_AMOUNT = 65_000_000  # the largest payment (docs/vipps.md#amounts-and-currencies)


def invoice_line(
    quantity: str, unit_price: int, vat_rate_bp: int, position: int = 1
) -> InvoiceLine:
    amounts = line_amounts(quantity, unit_price, vat_rate_bp)
    return InvoiceLine(
        position=position,
        description="Consulting",
        quantity_milli=amounts.quantity_milli,
        unit_price=unit_price,
        vat_rate_bp=vat_rate_bp,
        net_amount=amounts.net,
        vat_amount=amounts.vat,
    )


def invoice(*lines: InvoiceLine) -> Invoice:
    total = sum(line.net_amount + line.vat_amount for line in lines)
    return Invoice(id=1, number="1001", due_date=date(2027, 2, 1), total=total, lines=list(lines))


def receipt_lines(*lines: InvoiceLine, language: str = "en") -> list[OrderLine]:
    whole = invoice(*lines)
    return order_lines(
        [whole], {whole.id: whole.total}, open_amounts={whole.id: whole.total}, language=language
    )


def sent(lines: list[OrderLine], currency: str = "NOK") -> list[dict[str, Any]]:
    """The order lines of the create body, after checking the body against the contract."""
    body = wire.create_body(
        CreatePayment(
            reference="acme-shop-123-order123abc",
            amount=Money(sum(line.total for line in lines), currency),
            description="Invoice 1001",
            user_flow=UserFlow.qr,
            idempotency_key="create-acme-shop-123-order123abc",
            order_lines=lines,
        )
    )
    checker().check_request("POST", "/epayment/v1/payments", body)
    result: list[dict[str, Any]] = body["receipt"]["orderLines"]
    return result


def test_the_unit_price_includes_tax() -> None:
    """1.5 hours at 800.00 excluding 25 % VAT: 1 500.00 in all, so 1 000.00 a unit (we sent
    800.00 before: 1.5 × 800.00 = 1 200.00 against a total of 1 500.00)."""
    [line] = sent(receipt_lines(invoice_line("1.5", 80_000, 2500)))
    assert line["totalAmount"] == 150_000
    assert line["totalAmountExcludingTax"] == 120_000
    assert line["totalTaxAmount"] == 30_000
    assert line["unitInfo"] == {"unitPrice": 100_000, "quantity": "1.5", "quantityUnit": "PCS"}


def test_finlands_vat_keeps_its_half_percent() -> None:
    [line] = sent(receipt_lines(invoice_line("2", 10_000, 2550)), currency="EUR")
    assert line["taxRate"] == 2550  # hundredths of a percent: 25.5 %
    assert "taxPercentage" not in line  # the whole-percent field would say 25
    assert line["totalTaxAmount"] == 5_100 and line["totalAmount"] == 25_100


def test_a_quantity_that_fits_is_sent_as_it_is() -> None:
    [line] = sent(receipt_lines(invoice_line("123456.125", 100, 0)))  # 10 characters
    assert line["unitInfo"]["quantity"] == "123456.125"
    assert line["name"] == "1001: Consulting"


def test_a_quantity_too_long_for_the_receipt_is_one_unit_named_with_the_quantity() -> None:
    """The receipt refuses 1234567.125 (11 characters). It is sent as 1 unit at the line's
    total, the real quantity written as the customer reads it in front of the name."""
    [line] = sent(receipt_lines(invoice_line("1234567.125", 10, 2500), language="nb"))
    assert line["unitInfo"] == {
        "unitPrice": line["totalAmount"],
        "quantity": "1",
        "quantityUnit": "PCS",
    }
    assert line["name"] == "1\u00a0234\u00a0567,125 × 1001: Consulting"
    assert line["totalAmount"] == 12_345_671 + 3_086_418


def test_an_order_line_without_a_label_names_its_plain_quantity() -> None:
    line = OrderLine("X-1", "Cable", "123456789.5", 0, 1_000, 1_000, 0, 0)  # 11 characters
    [wired] = sent([line])
    assert wired["name"] == "123456789.5 × Cable"
    assert wired["unitInfo"] == {"unitPrice": 1_000, "quantity": "1", "quantityUnit": "PCS"}


@settings(max_examples=200, deadline=None)
@given(
    milli=st.integers(min_value=1, max_value=10**11),
    unit_price=st.integers(min_value=0, max_value=100_000),
    vat_rate_bp=st.sampled_from([0, 600, 1000, 1200, 1400, 1500, 2400, 2500, 2550]),
)
def test_unit_price_times_quantity_is_the_total_within_the_rounding(
    milli: int, unit_price: int, vat_rate_bp: int
) -> None:
    """The written-down rule: the total is exact; the unit price is total ÷ quantity rounded
    half up, so it is off by at most half a minor unit per unit of quantity."""
    quantity = str(Decimal(milli) / QUANTITY_SCALE)
    amounts = line_amounts(quantity, unit_price, vat_rate_bp)
    assume(amounts.total <= MAX_AMOUNT)
    [line] = sent(receipt_lines(invoice_line(quantity, unit_price, vat_rate_bp)))
    info = line["unitInfo"]
    shown = Decimal(info["quantity"])
    assert abs(info["unitPrice"] * shown - line["totalAmount"]) <= shown / 2
    assert line["totalAmount"] == line["totalAmountExcludingTax"] + line["totalTaxAmount"]
    assert len(info["quantity"]) <= 10
