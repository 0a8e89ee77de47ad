"""Invoices: the filtered list, the detail with lines and payment history, create and edit by
hand, void."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from payrequest.automations import reminders
from payrequest.commands import invoices as commands
from payrequest.customers import repository as customers
from payrequest.customers.models import Customer
from payrequest.errors import N_, PayrequestError, ValidationFailed
from payrequest.invoices import repository as invoices
from payrequest.invoices import service as invoice_service
from payrequest.invoices.models import Invoice
from payrequest.kit.clock import utcnow
from payrequest.kit.markets import COUNTRY_CURRENCY, CURRENCIES
from payrequest.ledger import applications
from payrequest.ledger import read as ledger_read
from payrequest.ledger import repository as ledger_repo
from payrequest.payment_requests import read as requests_read
from payrequest.payment_requests import repository as requests_repo
from payrequest.web import i18n
from payrequest.web.admin.invoice_form import (
    VAT_RATES,
    FormValues,
    currency_for,
    form_text,
    line_values,
    percent,
    quantity_text,
    read_form,
    to_input,
    with_blank_rows,
)
from payrequest.web.admin.payments import may_take_back
from payrequest.web.auth import StaffUser, Writer
from payrequest.web.deps import AsyncSession, ReadSessionDep, SessionDep, get_runtime
from payrequest.web.flash import flash
from payrequest.web.render import render

router = APIRouter()
PAGE_SIZE = 50
PAYMENT_TERMS = timedelta(days=14)


# --- List ---------------------------------------------------------------------------------


@router.get("/invoices", response_class=HTMLResponse)
async def invoice_list(
    request: Request,
    user: StaffUser,
    session: ReadSessionDep,
    status_filter: Annotated[str, Query(alias="status")] = "all",
    q: str = "",
    customer_id: str = "",
    page: int = 1,
) -> HTMLResponse:
    page = max(page, 1)
    query = q.strip()
    if status_filter not in ledger_repo.INVOICE_FILTERS:
        status_filter = "all"
    customer = await customers.get(session, int(customer_id)) if customer_id.isdigit() else None
    scope_id = customer.id if customer else None
    today = utcnow().date()
    rows = await ledger_repo.invoice_page(
        session,
        status=status_filter,
        query=query,
        customer_id=scope_id,
        today=today,
        limit=PAGE_SIZE + 1,
        offset=(page - 1) * PAGE_SIZE,
    )
    counts = await ledger_repo.invoice_counts(
        session, query=query, customer_id=scope_id, today=today
    )
    keep = {"q": query} if query else {}
    if scope_id is not None:
        keep["customer_id"] = str(scope_id)
    return render(
        request,
        "invoices/list.html",
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        page=page,
        q=query,
        customer=customer,
        status_filter=status_filter,
        counts=counts,
        filters=ledger_repo.INVOICE_FILTERS,
        base=lambda **extra: "/invoices?" + urlencode({**extra, **keep}),
        today=today,
    )


# --- Detail -------------------------------------------------------------------------------


async def _invoice(session: AsyncSession, invoice_id: int) -> Invoice:
    invoice = await invoices.get(session, invoice_id, with_lines=True)
    if invoice is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, i18n.gettext("No such invoice"))
    return invoice


def _refusal(invoice: Invoice, *, has_allocations: bool, active: bool) -> str | None:
    """Why this invoice cannot be edited now, in plain words (None: it can)."""
    if invoice.voided_at is not None:
        return _void_message(invoice.number)
    if has_allocations:
        return _paid_message(invoice.number)
    if active:
        return _busy_message(invoice.number)
    return None


def _void_message(number: str) -> str:
    return i18n.gettext("Invoice %(number)s is void and cannot be changed.") % {"number": number}


def _paid_message(number: str) -> str:
    return i18n.gettext(
        "Invoice %(number)s has payments on it and cannot be changed. "
        "Refund the payment first if the invoice is wrong."
    ) % {"number": number}


def _busy_message(number: str) -> str:
    return i18n.gettext(
        "Invoice %(number)s is in a payment request waiting for the customer. "
        "Cancel that request first."
    ) % {"number": number}


# The refusals of `commands.invoices.update_invoice`, by code, in the words of `_refusal`.
REFUSALS = {
    "invoice_void": _void_message,
    "invoice_has_payments": _paid_message,
    "invoice_busy": _busy_message,
}


async def detail_context(
    session: AsyncSession, invoice_id: int, *, now: datetime | None = None
) -> dict[str, Any]:
    """`now`: the time reminders go by (Runtime.calendar)."""
    invoice = await _invoice(session, invoice_id)
    reached, upcoming = await reminders.for_customer(
        session, invoice.customer_id, now=now or utcnow()
    )
    balance = (await ledger_repo.invoice_balances(session, [invoice]))[invoice.id]
    allocations = await ledger_repo.allocations_for_invoice(session, invoice.id)
    credit_ids = [a.credit_id for a in allocations if a.credit_id is not None]
    payment_requests = await requests_read.asking_for_invoice(session, invoice.id)
    active = any(link.active for _, link in payment_requests)
    void = invoice.voided_at is not None
    return {
        "invoice": invoice,
        "customer": await customers.get(session, invoice.customer_id),
        "balance": balance,
        "net": sum(line.net_amount for line in invoice.lines),
        "vat": sum(line.vat_amount for line in invoice.lines),
        "allocations": allocations,
        "credits": await ledger_repo.credits_by_id(session, credit_ids),
        "applications": await applications.for_invoice(session, invoice, allocations),
        "may_take_back": may_take_back,
        "manual_payments": await ledger_read.manual_payments_by_id(
            session, [a.manual_payment_id for a in allocations if a.manual_payment_id]
        ),
        "payment_requests": payment_requests,
        "references": {payment.id: payment.reference for payment, _ in payment_requests},
        "today": utcnow().date(),
        "active": active,
        "can_edit": _refusal(invoice, has_allocations=bool(allocations), active=active) is None,
        "can_void": not void and not active and balance.allocated == 0,
        "vat_percent": percent,
        "quantity": quantity_text,
        "reminder_steps": {
            "reached": [r for r in reached if r.invoice_id == invoice.id],
            "upcoming": [r for r in upcoming if r.invoice_id == invoice.id],
        },
    }


@router.get("/invoices/new", response_class=HTMLResponse)
async def new_invoice(
    request: Request, user: StaffUser, session: ReadSessionDep, customer_id: str = ""
) -> HTMLResponse:
    customer = await customers.get(session, int(customer_id)) if customer_id.isdigit() else None
    today = utcnow().date()
    values = FormValues(
        customer_id=str(customer.id) if customer else "",
        number=await invoices.next_number(session),
        issue_date=today.isoformat(),
        due_date=(today + PAYMENT_TERMS).isoformat(),
        currency=COUNTRY_CURRENCY.get(customer.country, "") if customer else "",
    )
    return await _form_page(request, session, values, customer=customer)


@router.get("/invoices/{invoice_id}", response_class=HTMLResponse)
async def invoice_detail(
    request: Request, user: StaffUser, session: ReadSessionDep, invoice_id: int
) -> HTMLResponse:
    now = get_runtime(request).calendar.now()
    return render(
        request, "invoices/detail.html", **await detail_context(session, invoice_id, now=now)
    )


@router.get("/invoices/{invoice_id}/live", response_class=HTMLResponse)
async def invoice_detail_part(
    request: Request, user: StaffUser, session: ReadSessionDep, invoice_id: int
) -> HTMLResponse:
    """The detail, re-fetched by the page when a live notice names the invoice's customer."""
    now = get_runtime(request).calendar.now()
    return render(
        request, "invoices/_detail.html", **await detail_context(session, invoice_id, now=now)
    )


async def _form_page(
    request: Request,
    session: AsyncSession,
    values: FormValues,
    *,
    customer: Customer | None,
    editing: dict[str, Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    choices = await customers.menu(session) if customer is None else []
    rates = list(VAT_RATES)
    rates += sorted({r.vat_rate for r in values.lines if r.vat_rate and r.vat_rate not in rates})
    return render(
        request,
        "invoices/form.html",
        status_code=status_code,
        values=values,
        rows=with_blank_rows(values.lines),
        customer=customer,
        choices=choices,
        country_currency=COUNTRY_CURRENCY,
        currencies=CURRENCIES,
        payable=sorted((await get_runtime(request).lifetime_to_show()).capabilities.currencies),
        vat_rates=rates,
        editing=editing,
        error=error,
    )


# --- Create, edit, void -------------------------------------------------------------------


@router.post("/invoices", response_model=None)
async def create_invoice(request: Request, user: Writer, session: SessionDep) -> Response:
    form = await request.form()
    values = read_form(form)
    fixed = form_text(form, "customer_fixed") == "1"
    picked = int(values.customer_id) if values.customer_id.isdigit() else None
    customer = await customers.get(session, picked) if picked is not None else None
    try:
        if customer is None:
            raise ValidationFailed("Choose a customer.", field="customer_id")
        data = to_input(
            values, customer_id=customer.id, currency=currency_for(values.currency, customer)
        )
        async with session.begin_nested():
            invoice = await invoice_service.create_invoice(session, data=data, actor_id=user.id)
            invoice_id, number = invoice.id, invoice.number
    except PayrequestError as exc:
        return await _form_page(
            request,
            session,
            values,
            customer=customer if fixed else None,
            error=i18n.error_text(exc),
            status_code=422,
        )
    flash(request, i18n.gettext("Invoice %(number)s created.") % {"number": number})
    return RedirectResponse(f"/invoices/{invoice_id}", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/invoices/{invoice_id}/edit", response_model=None)
async def edit_invoice(
    request: Request, user: StaffUser, session: ReadSessionDep, invoice_id: int
) -> Response:
    invoice = await _invoice(session, invoice_id)
    allocations = await ledger_repo.allocations_for_invoice(session, invoice.id)
    active = bool(await requests_repo.active_for_invoices(session, [invoice.id]))
    refusal = _refusal(invoice, has_allocations=bool(allocations), active=active)
    if refusal is not None:
        flash(request, refusal, "error")
        return RedirectResponse(f"/invoices/{invoice.id}", status_code=status.HTTP_303_SEE_OTHER)
    values = FormValues(
        customer_id=str(invoice.customer_id),
        number=invoice.number,
        issue_date=invoice.issue_date.isoformat(),
        due_date=invoice.due_date.isoformat(),
        currency=invoice.currency,
        note=invoice.note or "",
        lines=line_values(invoice),
    )
    customer = await customers.get(session, invoice.customer_id)
    editing = {"id": invoice.id, "number": invoice.number}
    return await _form_page(request, session, values, customer=customer, editing=editing)


@router.post("/invoices/{invoice_id}", response_model=None)
async def update_invoice(
    request: Request, user: Writer, session: SessionDep, invoice_id: int
) -> Response:
    values = read_form(await request.form())
    invoice = await _invoice(session, invoice_id)
    customer = await customers.get(session, invoice.customer_id)
    assert customer is not None
    editing = {"id": invoice.id, "number": invoice.number}
    try:
        data = to_input(
            values, customer_id=customer.id, currency=currency_for(values.currency, customer)
        )
        async with session.begin_nested():
            await commands.update_invoice(
                session, invoice_id=invoice_id, data=data, actor_id=user.id
            )
    except PayrequestError as exc:
        refusal = _refusal_of(exc)
        return await _form_page(
            request,
            session,
            values,
            customer=customer,
            editing=editing,
            error=refusal or i18n.error_text(exc),
            status_code=409 if refusal is not None else 422,
        )
    flash(request, i18n.gettext("Invoice %(number)s saved.") % {"number": data.number})
    return RedirectResponse(f"/invoices/{invoice_id}", status_code=status.HTTP_303_SEE_OTHER)


def _refusal_of(exc: PayrequestError) -> str | None:
    """A refusal to change the invoice at all, in the words of its page; None for any other
    error (of what was typed)."""
    message = REFUSALS.get(exc.code)
    return message(exc.params["number"]) if message else None


@router.post("/invoices/{invoice_id}/reminders")
async def invoice_reminders(
    request: Request,
    user: Writer,
    session: SessionDep,
    invoice_id: int,
    paused: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Staff pause this invoice's reminders (its steps wait) or resume them."""
    back = RedirectResponse(f"/invoices/{invoice_id}", status_code=status.HTTP_303_SEE_OTHER)
    try:
        async with session.begin_nested():
            await invoice_service.set_reminders_paused(
                session, invoice_id=invoice_id, paused=paused == "true", actor_id=user.id
            )
    except PayrequestError as exc:
        if exc.code == "not_found":
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, i18n.gettext("No such invoice")
            ) from None
        flash(request, i18n.error_text(exc), "error")
        return back
    done = N_("Reminders are paused.") if paused == "true" else N_("Reminders are on.")
    flash(request, i18n.gettext(done))
    return back


@router.post("/invoices/{invoice_id}/void")
async def void_invoice(
    request: Request, user: Writer, session: SessionDep, invoice_id: int
) -> RedirectResponse:
    back = RedirectResponse(f"/invoices/{invoice_id}", status_code=status.HTTP_303_SEE_OTHER)
    try:
        async with session.begin_nested():
            invoice = await commands.void_invoice(session, invoice_id=invoice_id, actor_id=user.id)
            number = invoice.number
    except PayrequestError as exc:
        if exc.code == "not_found":
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, i18n.gettext("No such invoice")
            ) from None
        busy = exc.code == "invoice_busy"
        text = _busy_message(exc.params["number"]) if busy else i18n.error_text(exc)
        flash(request, text, "error")
        return back
    flash(request, i18n.gettext("Invoice %(number)s is void.") % {"number": number})
    return back
