"""Taking back one application of customer credit: a reversal row of the same credit, naming
the application, opens the invoice again and frees the credit; announced; once only (a second
take-back says so and changes nothing, and the database refuses a second reversal of the same
row); who may; the rows alone say who applied and took back what, with no help from the
outbox; and the manual payment whose credit was applied can be undone once its applications
are taken back. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers.models import Customer
from payrequest.errors import Conflict, NotFound, ValidationFailed
from payrequest.events.models import OutboxEvent
from payrequest.invoices.models import Invoice
from payrequest.kit.money import Money
from payrequest.ledger import applications, manual, read, repository, take_back
from payrequest.ledger import credit as credits
from payrequest.ledger import jobs as ledger_jobs
from payrequest.ledger.manual import Actor, NewManualPayment
from payrequest.ledger.models import Allocation, Credit
from payrequest.payment_requests.repository import invoices_in_active_requests
from payrequest.users import service as users
from tests.factories import make_customer, make_invoice


async def _user(session: AsyncSession, role: str, email: str | None = None) -> Actor:
    user = await users.create_user(
        session, email=email or f"{role}@example.no", password="correct horse", role=role
    )
    return Actor(user.id, role)


async def _paid_in(
    session: AsyncSession, customer: Customer, amount: int, invoices: tuple[int, ...] | None = None
) -> manual.Recorded:
    return await manual.record(
        session,
        data=NewManualPayment(
            customer_id=customer.id,
            amount=Money(amount, "NOK"),
            received_on=manual.business_today(),
            method="bank_transfer",
            invoice_ids=invoices,
        ),
        in_requests=invoices_in_active_requests,
    )


async def _credit(session: AsyncSession, customer: Customer, amount: int) -> Credit:
    """Credit from a manual payment made when nothing was open."""
    recorded = await _paid_in(session, customer, amount)
    assert recorded.credit is not None
    return recorded.credit


async def _apply(
    session: AsyncSession, customer: Customer, invoice: Invoice, amount: int, by: Actor | None
) -> Allocation:
    applied = await credits.apply_credit(
        session,
        customer_id=customer.id,
        currency="NOK",
        amount=amount,
        invoice_ids=[invoice.id],
        in_requests=invoices_in_active_requests,
        applied_by=by.user_id if by else None,
    )
    [allocation] = applied.allocations
    return allocation


async def _open(session: AsyncSession, *invoices: Invoice) -> list[int]:
    balances = await repository.invoice_balances(session, list(invoices))
    return [balances[i.id].open_amount for i in invoices]


async def _count(session: AsyncSession, model: type[Any]) -> int:
    await session.flush()
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_take_back_opens_the_invoice_frees_the_credit_and_is_announced(
    session: AsyncSession,
) -> None:
    customer = await make_customer(session)
    credit = await _credit(session, customer, 10_000)
    wrong = await make_invoice(session, customer, amount=8_000, due_in_days=-3)
    right = await make_invoice(session, customer, amount=5_000, due_in_days=5)
    staff = await _user(session, "staff")
    application = await _apply(session, customer, wrong, 8_000, staff)
    assert await _open(session, wrong) == [0]

    done = await take_back.take_back(
        session, allocation_id=application.id, actor=staff, reason=" Wrong invoice "
    )

    assert not done.already
    reversal = done.reversal
    assert (
        reversal.invoice_id,
        reversal.amount,
        reversal.credit_id,
        reversal.reversal,
        reversal.refund_id,
        reversal.manual_payment_id,
        reversal.payment_request_id,
        reversal.reverses_allocation_id,
        reversal.created_by_user_id,
        reversal.note,
    ) == (
        wrong.id,
        -8_000,
        credit.id,
        True,
        None,
        None,
        None,
        application.id,
        staff.user_id,
        "Wrong invoice",
    )
    assert application.created_by_user_id == staff.user_id
    assert await _open(session, wrong, right) == [8_000, 5_000]
    assert await repository.credit_available(session, credit.id) == 10_000
    await session.flush()
    [event] = (
        await session.execute(select(OutboxEvent).where(OutboxEvent.name == "credit.taken_back"))
    ).scalars()
    assert (event.aggregate_type, event.aggregate_id, event.customer_id) == (
        "credit",
        credit.id,
        customer.id,
    )
    assert event.payload == {
        "amount": 8_000,
        "currency": "NOK",
        "credit": credit.id,
        "invoice": wrong.id,
        "number": wrong.number,
        "allocation": application.id,
        "reversal": reversal.id,
        "reason": "Wrong invoice",
        "by": staff.user_id,
    }
    # The freed credit goes where it should have gone.
    await _apply(session, customer, right, 5_000, staff)
    assert await _open(session, wrong, right) == [8_000, 0]


async def test_a_second_take_back_changes_nothing_and_says_when_it_was_done(
    session: AsyncSession,
) -> None:
    customer = await make_customer(session)
    await _credit(session, customer, 10_000)
    invoice = await make_invoice(session, customer, amount=8_000)
    owner = await _user(session, "owner")
    application = await _apply(session, customer, invoice, 3_000, owner)
    first = await take_back.take_back(
        session, allocation_id=application.id, actor=owner, reason="Wrong invoice"
    )
    rows, events = await _count(session, Allocation), await _count(session, OutboxEvent)

    again = await take_back.take_back(
        session, allocation_id=application.id, actor=owner, reason="again"
    )

    assert again.already and not first.already
    assert (again.reversal.id, again.reversal.note) == (first.reversal.id, "Wrong invoice")
    assert (await _count(session, Allocation), await _count(session, OutboxEvent)) == (rows, events)
    assert await _open(session, invoice) == [8_000]


async def test_the_named_application_is_taken_back_even_beside_an_identical_one(
    session: AsyncSession,
) -> None:
    """Two applications of the same credit to the same invoice for the same amount: a
    take-back names one of them (its allocation id), and taking that one back twice changes
    nothing the second time, while the other can still be taken back."""
    customer = await make_customer(session)
    await _credit(session, customer, 10_000)
    invoice = await make_invoice(session, customer, amount=8_000)
    owner = await _user(session, "owner")
    first = await _apply(session, customer, invoice, 2_000, owner)
    second = await _apply(session, customer, invoice, 2_000, owner)
    assert (first.credit_id, first.amount) == (second.credit_id, second.amount)

    await take_back.take_back(session, allocation_id=second.id, actor=owner, reason="twice")
    again = await take_back.take_back(session, allocation_id=second.id, actor=owner, reason="x")

    assert again.already
    assert await _open(session, invoice) == [6_000]
    done = await take_back.take_back(session, allocation_id=first.id, actor=owner, reason="both")
    assert not done.already
    assert await _open(session, invoice) == [8_000]
    applied, _ = await read.applied_credit(session, customer.id)
    assert [(a.id, a.take_back_reason) for a in applied] == [
        (second.id, "twice"),
        (first.id, "both"),
    ]


async def test_undo_of_a_manual_payment_whose_credit_was_applied_works_once_it_is_taken_back(
    session: AsyncSession,
) -> None:
    customer = await make_customer(session)
    paid = await make_invoice(session, customer, amount=30_000, due_in_days=-10)
    owner = await _user(session, "owner")
    recorded = await _paid_in(session, customer, 40_000)  # 10 000 becomes credit
    later = await make_invoice(session, customer, amount=5_000, due_in_days=20)
    application = await _apply(session, customer, later, 5_000, owner)

    with pytest.raises(Conflict) as refused:
        await manual.undo(session, payment_id=recorded.payment.id, actor=owner, reason="bounced")
    assert refused.value.code == "credit_used"
    assert "Take those credit applications back first" in refused.value.template
    assert "Credit applied to invoices" in refused.value.template

    await take_back.take_back(
        session, allocation_id=application.id, actor=owner, reason="The payment bounced"
    )
    undone = await manual.undo(
        session, payment_id=recorded.payment.id, actor=owner, reason="bounced"
    )

    assert not undone.already and undone.voided is not None
    assert await _open(session, paid, later) == [30_000, 5_000]
    assert await repository.credit_by_currency(session, customer.id) == {}


@pytest.mark.parametrize(
    ("who", "allowed"),
    [("owner", True), ("applier", True), ("other staff", False), ("readonly", False)],
)
async def test_who_may_take_back(session: AsyncSession, who: str, allowed: bool) -> None:
    customer = await make_customer(session)
    await _credit(session, customer, 10_000)
    invoice = await make_invoice(session, customer, amount=8_000)
    applier = await _user(session, "staff", "applier@example.no")
    actors = {
        "owner": await _user(session, "owner"),
        "applier": applier,
        "other staff": await _user(session, "staff", "other@example.no"),
        "readonly": await _user(session, "readonly"),
    }
    application = await _apply(session, customer, invoice, 8_000, applier)
    assert take_back.may_take_back(actors[who], applier.user_id) is allowed
    if allowed:
        done = await take_back.take_back(
            session, allocation_id=application.id, actor=actors[who], reason="mistake"
        )
        assert not done.already
        assert await _open(session, invoice) == [8_000]
    else:
        with pytest.raises(Conflict) as refused:
            await take_back.take_back(
                session, allocation_id=application.id, actor=actors[who], reason="mistake"
            )
        assert refused.value.code == "not_allowed"
        assert await _open(session, invoice) == [0]


async def test_credit_applied_automatically_is_taken_back_by_an_owner_only(
    session: AsyncSession,
) -> None:
    customer = await make_customer(session)
    await _credit(session, customer, 10_000)
    invoice = await make_invoice(session, customer, amount=8_000)
    await ledger_jobs.apply_credit_everywhere(session, in_requests=invoices_in_active_requests)
    [applied] = (await read.applied_credit(session, customer.id))[0]
    assert applied.automatic and applied.applied_by_id is None
    staff, owner = await _user(session, "staff"), await _user(session, "owner")

    with pytest.raises(Conflict):
        await take_back.take_back(session, allocation_id=applied.id, actor=staff, reason="no")
    await take_back.take_back(session, allocation_id=applied.id, actor=owner, reason="wrong")

    assert await _open(session, invoice) == [8_000]


async def test_a_reason_is_needed_and_only_a_credit_application_is_taken_back(
    session: AsyncSession,
) -> None:
    customer = await make_customer(session)
    owner = await _user(session, "owner")
    invoice = await make_invoice(session, customer, amount=8_000)
    recorded = await _paid_in(session, customer, 10_000)  # 8 000 on the invoice, 2 000 credit
    other = await make_invoice(session, customer, amount=5_000)
    application = await _apply(session, customer, other, 2_000, owner)
    rows = await _count(session, Allocation)

    with pytest.raises(ValidationFailed) as no_reason:
        await take_back.take_back(session, allocation_id=application.id, actor=owner, reason=" ")
    assert no_reason.value.field == "reason"
    [paid] = recorded.allocations
    for not_credit in (paid.id, 999_999):
        with pytest.raises(NotFound):
            await take_back.take_back(session, allocation_id=not_credit, actor=owner, reason="x")
    done = await take_back.take_back(session, allocation_id=application.id, actor=owner, reason="x")
    with pytest.raises(NotFound):  # a reversal is not an application
        await take_back.take_back(session, allocation_id=done.reversal.id, actor=owner, reason="x")
    assert await _count(session, Allocation) == rows + 1
    assert await _open(session, invoice, other) == [0, 5_000]


async def test_never_more_is_taken_back_than_the_credit_still_gives_the_invoice(
    session: AsyncSession,
) -> None:
    """The last guard: should a reversal of this credit on this invoice exist that names no
    application (written by hand, say), the take-back is refused rather than reopen the
    invoice by more than the credit gave it."""
    customer = await make_customer(session)
    credit = await _credit(session, customer, 10_000)
    invoice = await make_invoice(session, customer, amount=8_000)
    owner = await _user(session, "owner")
    application = await _apply(session, customer, invoice, 8_000, owner)
    session.add(
        Allocation(
            invoice_id=invoice.id, currency="NOK", amount=-8_000, credit_id=credit.id, reversal=True
        )
    )
    await session.flush()
    rows = await _count(session, Allocation)

    with pytest.raises(Conflict) as refused:
        await take_back.take_back(session, allocation_id=application.id, actor=owner, reason="x")

    assert refused.value.code == "not_applied"
    assert await _count(session, Allocation) == rows
    assert await _open(session, invoice) == [8_000]


async def test_the_database_refuses_a_second_reversal_of_the_same_row(
    session: AsyncSession,
) -> None:
    """The constraints themselves, without the command: a row is taken back at most once, and
    only a reversal takes a row back."""
    customer = await make_customer(session)
    credit = await _credit(session, customer, 10_000)
    invoice = await make_invoice(session, customer, amount=8_000)
    application = await _apply(session, customer, invoice, 3_000, None)
    other = await _apply(session, customer, invoice, 2_000, None)

    def row(amount: int, takes_back: int, *, reversal: bool = True) -> Allocation:
        return Allocation(
            invoice_id=invoice.id,
            currency="NOK",
            amount=amount,
            credit_id=credit.id,
            reversal=reversal,
            reverses_allocation_id=takes_back,
        )

    async with session.begin_nested():
        session.add(row(-3_000, application.id))
    rows = await _count(session, Allocation)
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            session.add(row(-3_000, application.id))
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            session.add(row(2_000, other.id, reversal=False))
    assert await _count(session, Allocation) == rows


async def test_a_take_back_that_misses_the_first_ones_row_is_stopped_by_the_database(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As if it had got past the credit row lock: its look for an earlier reversal finds none,
    and the net guard passes (an identical application is still on the invoice), so only the
    unique column is left: it refuses the row inside a savepoint, and the take-back answers
    with the first one's reversal, nothing changed."""
    customer = await make_customer(session)
    await _credit(session, customer, 10_000)
    invoice = await make_invoice(session, customer, amount=8_000)
    owner = await _user(session, "owner")
    application = await _apply(session, customer, invoice, 3_000, owner)
    await _apply(session, customer, invoice, 3_000, owner)  # its twin stays on the invoice
    first = await take_back.take_back(
        session, allocation_id=application.id, actor=owner, reason="Wrong invoice"
    )
    rows, events = await _count(session, Allocation), await _count(session, OutboxEvent)
    looked: list[int] = []
    finds = take_back._reversal_of

    async def too_early(session: AsyncSession, allocation_id: int) -> Allocation | None:
        looked.append(allocation_id)
        return None if len(looked) == 1 else await finds(session, allocation_id)

    monkeypatch.setattr(take_back, "_reversal_of", too_early)
    again = await take_back.take_back(
        session, allocation_id=application.id, actor=owner, reason="again"
    )

    assert looked == [application.id, application.id]
    assert again.already and again.reversal.id == first.reversal.id
    assert (again.amount, again.invoice.number) == (Money(3_000, "NOK"), invoice.number)
    assert (await _count(session, Allocation), await _count(session, OutboxEvent)) == (rows, events)
    assert await _open(session, invoice) == [5_000]


async def test_the_rows_alone_say_who_applied_and_took_back_what(session: AsyncSession) -> None:
    """Delivered events may be pruned from the outbox: who applied credit, which application a
    reversal takes back, and who took it back and why are kept on the allocation rows."""
    customer = await make_customer(session)
    await _credit(session, customer, 10_000)
    invoice = await make_invoice(session, customer, amount=8_000)
    staff, owner = await _user(session, "staff"), await _user(session, "owner")
    first = await _apply(session, customer, invoice, 3_000, staff)
    second = await _apply(session, customer, invoice, 2_000, staff)
    await take_back.take_back(session, allocation_id=first.id, actor=owner, reason="Wrong invoice")

    await session.execute(delete(OutboxEvent))

    applied, _ = await read.applied_credit(session, customer.id)
    assert [
        (a.id, a.applied_by_id, a.automatic, a.taken_back_by, a.take_back_reason) for a in applied
    ] == [
        (second.id, staff.user_id, False, None, None),
        (first.id, staff.user_id, False, "owner", "Wrong invoice"),
    ]
    allocations = await repository.allocations_for_invoice(session, invoice.id)
    on_invoice = await applications.for_invoice(session, invoice, allocations)
    assert set(on_invoice) == {first.id, second.id}
    taken = on_invoice[first.id].taken_back
    assert taken is not None and (taken.by, taken.reason) == (owner.user_id, "Wrong invoice")
    assert on_invoice[second.id].taken_back is None
    again = await take_back.take_back(session, allocation_id=first.id, actor=owner, reason="x")
    assert again.already
    done = await take_back.take_back(  # staff take back what they applied themselves
        session, allocation_id=second.id, actor=staff, reason="Also wrong"
    )
    assert not done.already
    assert await _open(session, invoice) == [8_000]
