"""The payments export for the accounting: a paid request, its refund and a manual payment
come out as the journal docs/csv.md describes, only the period's and only the organisation's.
Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.db.scope import ALL, acting_for
from payrequest.errors import ValidationFailed
from payrequest.exports.payments_csv import COLUMNS, amount_text, payments_csv
from payrequest.exports.period import Period
from payrequest.kit.money import Money
from payrequest.ledger import credit as credits
from payrequest.ledger import manual
from payrequest.ledger.manual import Actor, NewManualPayment
from payrequest.organisations import service as organisations
from payrequest.payment_requests import apply, refunds
from payrequest.payment_requests.repository import invoices_in_active_requests
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.payment_requests.state import Status
from payrequest.providers.base import (
    Capabilities,
    OneProvider,
    PaymentProvider,
    PaymentSnapshot,
    ProviderState,
    UserFlow,
)
from payrequest.users import service as users
from tests.conftest import TEST_ORGANISATION
from tests.factories import make_customer, make_invoice

Sessions = async_sessionmaker[AsyncSession]


class _Refunding:
    """The provider at the edge: every refund succeeds."""

    name = "vipps"

    def __init__(self, reference: str, total: int) -> None:
        self.reference, self.total, self.refunded = reference, total, 0

    async def refund(self, reference: str, amount: Money, *, idempotency_key: str) -> Any:
        self.refunded += amount.amount
        return PaymentSnapshot(
            reference,
            ProviderState.authorized,
            Money(self.total, amount.currency),
            authorized=self.total,
            captured=self.total,
            cancelled=0,
            refunded=self.refunded,
        )


async def _paid_request(session: AsyncSession, amounts: tuple[int, ...], phone: str) -> Any:
    customer = await make_customer(session, name="Fjord Rør AS", phone=phone)
    invoices = [
        await make_invoice(session, customer, amount=amount, due_in_days=days)
        for days, amount in enumerate(amounts)
    ]
    request = await create_request(
        session,
        data=NewPaymentRequest(
            customer_id=customer.id,
            invoice_ids=[i.id for i in invoices],
            phone=phone,
            user_flow=UserFlow.push,
        ),
        lifetime=Lifetime(10, Capabilities()),
    )
    await apply.apply_outcome(
        session,
        reference=request.reference,
        target=Status.pending,
        source="system",
        provider_reference="psp-4711",
    )
    total = sum(amounts)
    await apply.apply_snapshot(
        session,
        snapshot=PaymentSnapshot(
            request.reference,
            ProviderState.authorized,
            Money(total, "NOK"),
            authorized=total,
            captured=total,
            cancelled=0,
            refunded=0,
        ),
        source="system",
    )
    return customer, invoices, request


def _read(data: bytes) -> list[dict[str, str]]:
    text = data.decode("utf-8")
    assert not text.startswith("\ufeff")
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


async def _export(sessions: Sessions, period: Period, organisation: int = TEST_ORGANISATION) -> Any:
    chunks = [
        chunk async for chunk in payments_csv(sessions, organisation_id=organisation, period=period)
    ]
    return _read(b"".join(chunks))


def _today_only() -> Period:
    today = manual.business_today()
    return Period.of(today, today)


def _short(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
    return [
        (r["type"], r["payment"], r["invoice_number"], r["amount"], r["currency"]) for r in rows
    ]


async def test_a_refunded_payment_and_a_manual_payment_are_exported_as_the_journal(
    sessions: Sessions,
) -> None:
    async with sessions() as session, session.begin():
        customer, (first, second), request = await _paid_request(
            session, (10_000, 20_050), "+4791234001"
        )
        reference = request.reference
        refund = await refunds.request_refund(session, payment_request_id=request.id, amount=8_000)
    provider = cast(PaymentProvider, _Refunding(reference, 30_050))
    await refunds.send_refund(sessions, OneProvider(provider), refund_id=refund.id)
    async with sessions() as session, session.begin():
        third = await make_invoice(session, customer, amount=3_000, number="M-1")
        payment = (
            await manual.record(
                session,
                data=NewManualPayment(
                    customer_id=customer.id,
                    amount=Money(5_000, "NOK"),
                    received_on=manual.business_today(),
                    method="bank_transfer",
                    reference="=KID 1234",
                    invoice_ids=(third.id,),
                ),
                in_requests=invoices_in_active_requests,
            )
        ).payment
        # one received long ago (outside the period) is not exported
        await manual.record(
            session,
            data=NewManualPayment(
                customer_id=customer.id,
                amount=Money(700, "NOK"),
                received_on=manual.business_today() - timedelta(days=40),
                method="cash",
            ),
            in_requests=invoices_in_active_requests,
        )

    rows = await _export(sessions, _today_only())

    manual_id = f"manual-{payment.id}"
    assert _short(rows) == [
        ("payment", reference, first.number, "100.00", "NOK"),
        ("payment", reference, second.number, "200.50", "NOK"),
        ("refund", reference, second.number, "-80.00", "NOK"),
        ("manual_payment", manual_id, "M-1", "30.00", "NOK"),
        ("manual_payment", manual_id, "", "20.00", "NOK"),  # became credit
    ]
    today = manual.business_today().isoformat()
    assert {r["date"] for r in rows} == {today}
    assert all(r["time"].endswith("Z") for r in rows)
    assert {(r["customer_number"], r["customer_name"]) for r in rows} == {
        (customer.number, "Fjord Rør AS")
    }
    by_provider = [r for r in rows if r["type"] in ("payment", "refund")]
    assert {(r["provider"], r["provider_reference"], r["method"]) for r in by_provider} == {
        ("vipps", "psp-4711", "")
    }
    by_hand = [r for r in rows if r["type"] == "manual_payment"]
    # a cell a spreadsheet would run as a formula starts with an apostrophe
    assert {(r["provider"], r["method"], r["reference"]) for r in by_hand} == {
        ("", "bank_transfer", "'=KID 1234")
    }
    # a day later: nothing of today's
    tomorrow = manual.business_today() + timedelta(days=1)
    assert await _export(sessions, Period.of(tomorrow, tomorrow)) == []


async def test_undone_manual_payments_and_credit_moves_come_back_negative(
    session: AsyncSession, sessions: Sessions
) -> None:
    customer = await make_customer(session, phone="+4791234002")
    invoice = await make_invoice(session, customer, amount=4_000, number="U-1")
    owner = await users.create_user(
        session, email="owner@example.no", password="correct horse", role="owner"
    )
    recorded = await manual.record(
        session,
        data=NewManualPayment(
            customer_id=customer.id,
            amount=Money(6_000, "NOK"),
            received_on=manual.business_today(),
            method="cash",
            invoice_ids=(invoice.id,),
        ),
        in_requests=invoices_in_active_requests,
    )
    await manual.undo(
        session, payment_id=recorded.payment.id, actor=Actor(owner.id, "owner"), reason="bounced"
    )
    later = await make_invoice(session, customer, amount=1_500, number="U-2")
    again = await manual.record(
        session,
        data=NewManualPayment(
            customer_id=customer.id,
            amount=Money(2_000, "NOK"),
            received_on=manual.business_today(),
            method="bank_transfer",
            invoice_ids=(later.id,),
        ),
        in_requests=invoices_in_active_requests,
    )
    await session.commit()

    rows = await _export(sessions, _today_only())

    first, second = f"manual-{recorded.payment.id}", f"manual-{again.payment.id}"
    assert sorted(_short(rows)) == sorted(
        [
            ("manual_payment", first, "U-1", "40.00", "NOK"),
            ("manual_payment", first, "", "20.00", "NOK"),
            ("manual_payment_undone", first, "U-1", "-40.00", "NOK"),
            ("manual_payment_undone", first, "", "-20.00", "NOK"),
            ("manual_payment", second, "U-2", "15.00", "NOK"),
            ("manual_payment", second, "", "5.00", "NOK"),
        ]
    )
    assert [r["type"] for r in rows][:2] == ["manual_payment", "manual_payment"]
    assert sum(int(r["amount"].replace(".", "")) for r in rows) == 2_000  # what stayed paid


async def test_credit_applied_to_an_invoice_is_a_line_of_its_own(
    session: AsyncSession, sessions: Sessions
) -> None:
    customer = await make_customer(session, phone="+4791234003")
    recorded = await manual.record(
        session,
        data=NewManualPayment(
            customer_id=customer.id,
            amount=Money(2_500, "NOK"),
            received_on=manual.business_today(),
            method="bank_transfer",
        ),
        in_requests=invoices_in_active_requests,
    )
    assert recorded.credit is not None
    invoice = await make_invoice(session, customer, amount=1_000, number="C-1")
    await credits.apply_credit(
        session, customer_id=customer.id, currency="NOK", in_requests=invoices_in_active_requests
    )
    await session.commit()

    rows = await _export(sessions, _today_only())

    assert _short(rows) == [
        ("manual_payment", f"manual-{recorded.payment.id}", "", "25.00", "NOK"),
        ("credit_applied", f"credit-{recorded.credit.id}", invoice.number, "10.00", "NOK"),
    ]


async def test_another_organisations_payments_stay_out(
    session: AsyncSession, sessions: Sessions
) -> None:
    with acting_for(ALL):
        async with sessions() as admin, admin.begin():
            other = await organisations.create(
                admin, organisations.NewOrganisation(name="Bager Hansen ApS", slug="hansen")
            )
    with acting_for(other.id):
        async with sessions() as theirs, theirs.begin():
            customer = await make_customer(theirs, phone="+4791234004")
            theirs_paid = await manual.record(
                theirs,
                data=NewManualPayment(
                    customer_id=customer.id,
                    amount=Money(9_900, "NOK"),
                    received_on=manual.business_today(),
                    method="cash",
                ),
                in_requests=invoices_in_active_requests,
            )
    assert await _export(sessions, _today_only()) == []
    assert _short(await _export(sessions, _today_only(), other.id)) == [
        ("manual_payment", f"manual-{theirs_paid.payment.id}", "", "99.00", "NOK")
    ]


def test_periods_and_amounts_as_accountants_read_them() -> None:
    with pytest.raises(ValidationFailed) as backwards:
        Period.parse("2027-02-01", "2027-01-31")
    assert backwards.value.code == "period_backwards"
    with pytest.raises(ValidationFailed) as not_a_date:
        Period.parse("1.2.2027", "2027-02-28")
    assert not_a_date.value.field == "from"
    period = Period.parse(" 2027-01-01", "2027-01-31 ")
    assert period.filename("payments") == "payments-2027-01-01-2027-01-31.csv"
    assert period.starts.isoformat() == "2026-12-31T23:00:00+00:00"  # Oslo's midnight
    assert period.ends.isoformat() == "2027-01-31T23:00:00+00:00"
    assert [amount_text(a, "NOK") for a in (123_450, -5, 0, 7)] == [
        "1234.50",
        "-0.05",
        "0.00",
        "0.07",
    ]
