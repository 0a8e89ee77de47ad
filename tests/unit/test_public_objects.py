"""The public objects' conventions (docs/api.md): ids with a type prefix that read back only as
their own kind, timestamps RFC 3339 in UTC to the second, exact quantities, the envelope."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from payrequest.errors import NotFound
from payrequest.invoices.models import Invoice, InvoiceLine
from payrequest.invoices.status import InvoiceBalance
from payrequest.public.event import API_VERSION, event_object
from payrequest.public.ids import PREFIXES, public_id, read_id, row_id
from payrequest.public.invoice import invoice_object, quantity_text

CREATED = datetime(2026, 12, 1, 10, 30, 15, 123456, tzinfo=timezone(timedelta(hours=1)))


def test_ids_read_back_as_their_own_kind_only() -> None:
    assert public_id("customer", 42) == "cus_42"
    assert row_id("customer", "cus_42") == 42
    assert read_id("mpay_7") == ("manual_payment", 7)
    assert len(set(PREFIXES.values())) == len(PREFIXES)
    for wrong in ("inv_42", "cus_", "cus_0", "cus_042", "cus_4x", "42", "cus_42 ", "zz_1"):
        with pytest.raises(NotFound) as refused:
            row_id("customer", wrong, field="customer")
        assert refused.value.field == "customer"


def test_quantities_are_exact_text() -> None:
    assert [quantity_text(q) for q in (1500, 2000, 125, 1_000_000)] == ["1.5", "2", "0.125", "1000"]


def test_an_invoice_in_its_envelope() -> None:
    invoice = Invoice(
        id=7,
        number="2026-001",
        external_id="ERP-7",
        reference="1234567890",
        customer_id=3,
        issue_date=date(2026, 12, 1),
        due_date=date(2026, 12, 15),
        currency="NOK",
        total=187_500,
        note=None,
        voided_at=None,
        created_at=CREATED,
        updated_at=CREATED,
        lines=[
            InvoiceLine(
                position=1,
                description="Consulting",
                quantity_milli=1500,
                unit_price=100_000,
                vat_rate_bp=2500,
                net_amount=150_000,
                vat_amount=37_500,
            )
        ],
    )
    balance = InvoiceBalance(
        total=187_500, allocated=50_000, voided=False, due_date=date(2026, 12, 15)
    )
    shape = invoice_object(invoice, balance)
    envelope = event_object(
        event_id=9, type="invoice.partially_paid", created=CREATED, obj=shape
    ).model_dump(mode="json")
    assert envelope["id"] == "evt_9"
    assert (envelope["object"], envelope["api_version"]) == ("event", API_VERSION)
    assert envelope["created"] == "2026-12-01T09:30:15Z"
    shown = envelope["data"]["object"]
    assert (shown["id"], shown["customer"], shown["object"]) == ("inv_7", "cus_3", "invoice")
    assert (shown["status"], shown["open_amount"], shown["amount_paid"]) == (
        "partially_paid",
        137_500,
        50_000,
    )
    assert shown["lines"][0]["quantity"] == "1.5"
    assert shown["issue_date"] == "2026-12-01"
