"""Money that does not come through a payment request, from the customer card: record a
payment received by hand (bank transfer, cash, ...), undo one, apply customer credit to open
invoices and take one application back (also from the invoice's payment history).
`money_context` is what the card's money section (customers/_money.html) shows.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse

from payrequest.commands import ledger as commands
from payrequest.commands.missing import Missing
from payrequest.customers.models import Customer
from payrequest.errors import N_, PayrequestError, ValidationFailed
from payrequest.invoices.models import Invoice
from payrequest.kit.markets import currency_of
from payrequest.ledger import manual, read, take_back
from payrequest.ledger.models import MANUAL_METHODS
from payrequest.users.members import Member
from payrequest.web import i18n
from payrequest.web.auth import Writer
from payrequest.web.deps import AsyncSession, SessionDep
from payrequest.web.flash import flash

router = APIRouter()
LABELS = {
    "amount": N_("Amount"),
    "currency": N_("Currency"),
    "method": N_("Method"),
    "received_on": N_("Date received"),
    "reference": N_("Reference (bank reference, KID)"),
    "note": N_("Note"),
    "reason": N_("Reason"),
    "invoice_ids": N_("Invoices"),
}


async def money_context(session: AsyncSession, customer: Customer) -> dict[str, Any]:
    """What customers/_money.html needs besides the card's invoice rows."""
    money = await read.customer_money(session, customer.id)
    return {
        "money": money,
        "money_methods": MANUAL_METHODS,
        "money_currencies": sorted(
            {currency_of(customer.country), *(p.currency for p in money.received)}
        ),
        "money_today": manual.business_today().isoformat(),
        "may_undo": lambda who, recorded_by: manual.may_undo(_actor(who), recorded_by),
        "may_take_back": may_take_back,
    }


def may_take_back(who: Member, applied_by: int | None) -> bool:
    """For templates: whether `who` may take back a credit application `applied_by` made."""
    return take_back.may_take_back(_actor(who), applied_by)


def _actor(user: Member) -> commands.Actor:
    return commands.Actor(user.id, user.role)


def _back(customer_id: int) -> RedirectResponse:
    return RedirectResponse(
        f"/customers/{customer_id}#money", status_code=status.HTTP_303_SEE_OTHER
    )


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(
            "Enter the date the money was received", field="received_on"
        ) from None


def _chosen(invoice_ids: list[int]) -> tuple[int, ...] | None:
    """Ticked invoices; none ticked means the open invoices, oldest due first."""
    return tuple(invoice_ids) or None


@router.post("/customers/{customer_id}/payments")
async def record_payment(
    request: Request,
    user: Writer,
    session: SessionDep,
    customer_id: int,
    amount: Annotated[str, Form()] = "",
    currency: Annotated[str, Form()] = "",
    method: Annotated[str, Form()] = "",
    received_on: Annotated[str, Form()] = "",
    reference: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    invoice_ids: Annotated[list[int] | None, Form()] = None,
) -> RedirectResponse:
    try:
        async with session.begin_nested():
            recorded = await commands.record_payment(
                session,
                commands.PaymentReceived(
                    customer_id=customer_id,
                    amount=amount,
                    currency=currency or None,
                    received_on=_day(received_on),
                    method=method,
                    reference=reference,
                    note=note,
                    invoice_ids=_chosen(invoice_ids or []),
                    recorded_by=user.id,
                ),
            )
    except Missing as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, i18n.error_text(exc)) from None
    except PayrequestError as exc:
        flash(request, i18n.problem(exc, LABELS), "error")
        return _back(customer_id)
    flash(request, _recorded_text(recorded))
    return _back(customer_id)


def _recorded_text(recorded: manual.Recorded) -> str:
    payment = recorded.payment
    parts = [
        i18n.gettext("Payment of %(amount)s recorded.")
        % {"amount": i18n.money(payment.amount, payment.currency)}
    ]
    if recorded.credit is not None:
        parts.append(
            i18n.gettext("%(amount)s was more than was open and became customer credit.")
            % {"amount": i18n.money(recorded.credit.amount, payment.currency)}
        )
    if recorded.applied is not None:
        parts.append(
            i18n.gettext("%(amount)s of credit was applied to other open invoices.")
            % {"amount": i18n.money(recorded.applied.amount.amount, payment.currency)}
        )
    if recorded.skipped:
        parts.append(_skipped_text(recorded.skipped))
    return " ".join(parts)


def _skipped_text(skipped: Any) -> str:
    return i18n.gettext(
        "Left alone, because a payment request is collecting it: invoice %(numbers)s."
    ) % {"numbers": ", ".join(invoice.number for invoice in skipped)}


@router.post("/manual-payments/{payment_id}/undo")
async def undo_payment(
    request: Request,
    user: Writer,
    session: SessionDep,
    payment_id: int,
    reason: Annotated[str, Form()] = "",
) -> RedirectResponse:
    try:
        async with session.begin_nested():
            undone = await commands.undo_payment(
                session, payment_id=payment_id, actor=_actor(user), reason=reason
            )
    except PayrequestError as exc:
        _refuse_missing_or_forbidden(exc)
        flash(request, i18n.problem(exc, LABELS), "error")
        return _back(await _customer_of(session, payment_id))
    payment = undone.payment
    amount = i18n.money(payment.amount, payment.currency)
    if undone.already:
        flash(
            request,
            i18n.gettext("This payment of %(amount)s was already undone %(when)s; nothing changed.")
            % {"amount": amount, "when": i18n.moment(payment.undone_at)},
        )
    else:
        flash(request, i18n.gettext("Payment of %(amount)s undone.") % {"amount": amount})
    return _back(payment.customer_id)


async def _customer_of(session: AsyncSession, payment_id: int) -> int:
    payment = await read.manual_payments_by_id(session, [payment_id])
    return payment[payment_id].customer_id


@router.post("/customers/{customer_id}/credit/apply")
async def apply_credit(
    request: Request,
    user: Writer,
    session: SessionDep,
    customer_id: int,
    currency: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
    invoice_ids: Annotated[list[int] | None, Form()] = None,
) -> RedirectResponse:
    try:
        async with session.begin_nested():
            applied = await commands.apply_credit(
                session,
                commands.CreditToApply(
                    customer_id=customer_id,
                    currency=currency or None,
                    amount=amount,
                    invoice_ids=_chosen(invoice_ids or []),
                    applied_by=user.id,
                ),
            )
    except Missing as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, i18n.error_text(exc)) from None
    except PayrequestError as exc:
        flash(request, i18n.problem(exc, LABELS), "error")
        return _back(customer_id)
    text = i18n.gettext("%(amount)s of credit applied to invoice %(numbers)s.") % {
        "amount": i18n.money(applied.amount.amount, applied.currency),
        "numbers": ", ".join(applied.numbers),
    }
    if applied.skipped:
        text += " " + _skipped_text(applied.skipped)
    flash(request, text)
    return _back(customer_id)


@router.post("/credit-applications/{allocation_id}/take-back")
async def take_back_credit(
    request: Request,
    user: Writer,
    session: SessionDep,
    allocation_id: int,
    reason: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Take back one application of credit (`allocation_id`); `back=invoice` returns to the
    invoice's page, anything else to the customer card."""
    try:
        async with session.begin_nested():
            done = await commands.take_back_credit(
                session, allocation_id=allocation_id, actor=_actor(user), reason=reason
            )
    except PayrequestError as exc:
        _refuse_missing_or_forbidden(exc)
        flash(request, i18n.problem(exc, LABELS), "error")
        return _to(await read.invoice_of_allocation(session, allocation_id), back)
    flash(request, _taken_back_text(done))
    return _to(done.invoice, back)


def _taken_back_text(done: take_back.TakenBack) -> str:
    values = {
        "amount": i18n.money(done.amount.amount, done.amount.currency),
        "number": done.invoice.number,
    }
    if not done.already:
        return (
            i18n.gettext(
                "%(amount)s of credit taken back from invoice %(number)s: the invoice is open "
                "again by that amount and the credit can be used again."
            )
            % values
        )
    return i18n.gettext(
        "This credit of %(amount)s on invoice %(number)s was already taken back %(when)s; "
        "nothing changed."
    ) % {**values, "when": i18n.moment(done.reversal.created_at)}


def _to(invoice: Invoice, back: str) -> RedirectResponse:
    """Where a take-back returns to: the invoice's page (`back=invoice`) or the card."""
    if back == "invoice":
        return RedirectResponse(f"/invoices/{invoice.id}", status_code=status.HTTP_303_SEE_OTHER)
    return _back(invoice.customer_id)


# An error that is about the page itself, not the form: its own status and error page.
_PAGE_ERRORS = {"not_found": status.HTTP_404_NOT_FOUND, "not_allowed": status.HTTP_403_FORBIDDEN}


def _refuse_missing_or_forbidden(exc: PayrequestError) -> None:
    """Raise the error page for a row that does not exist or a role that may not; any other
    refusal is the caller's to show on the form."""
    if exc.code in _PAGE_ERRORS:
        raise HTTPException(_PAGE_ERRORS[exc.code], i18n.error_text(exc)) from None
