"""Payment requests from the staff side: send, cancel, retry, send a waiting request's link (a
QR code's or a card payment's), refund; list and detail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from payrequest.commands import links
from payrequest.commands import payment_requests as commands
from payrequest.commands.missing import Missing
from payrequest.customers import repository as customers
from payrequest.errors import PayrequestError
from payrequest.exports.period import business_day, this_month
from payrequest.invoices import repository as invoices_repo
from payrequest.kit.clock import utcnow
from payrequest.ledger import repository as ledger_repo
from payrequest.notify.errors import NotifyError
from payrequest.payment_requests import read, repository
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.state import Status
from payrequest.payment_requests.waiting_link import CARD, link_kind, shows_code
from payrequest.providers.base import ProviderError, TryAgainLater, UserFlow
from payrequest.runtime import Runtime
from payrequest.web import i18n
from payrequest.web.admin.request_forms import (
    LABELS,
    amount_minor,
    chosen_flow,
    lifetime_minutes,
    qr_code,
)
from payrequest.web.auth import WRITERS, StaffUser, Writer
from payrequest.web.deps import AsyncSession, ReadSessionDep, RuntimeDep
from payrequest.web.flash import flash
from payrequest.web.nudge import sent_text, waiting_text
from payrequest.web.render import render

router = APIRouter()
PAGE_SIZE = 50


def _back(customer_id: int) -> RedirectResponse:
    return RedirectResponse(f"/customers/{customer_id}", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/customers/{customer_id}/requests")
async def send_request(
    request: Request,
    user: Writer,
    runtime: RuntimeDep,
    customer_id: int,
    invoice_ids: Annotated[list[int], Form()] = [],  # noqa: B006 - FastAPI form default
    phone: Annotated[str, Form()] = "",
    flow: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
    currency: Annotated[str, Form()] = "NOK",
    expiry: Annotated[str, Form()] = "",
    expiry_date: Annotated[str, Form()] = "",
) -> RedirectResponse:
    if not invoice_ids:
        flash(request, i18n.gettext("Tick at least one open invoice."), "error")
        return _back(customer_id)
    user_flow = chosen_flow(flow, phone)
    try:
        data = NewPaymentRequest(
            customer_id=customer_id,
            invoice_ids=invoice_ids,
            phone=phone.strip() if user_flow is UserFlow.push else None,
            user_flow=user_flow,
            amount=amount_minor(amount, currency),
            lifetime_minutes=lifetime_minutes(expiry, expiry_date, utcnow()),
            created_by_user_id=user.id,
            origin="staff",
        )
        # "Card payment link": through the card provider, and the link goes on to the customer
        sent = await commands.create_and_send(runtime, data, card=flow == CARD, deliver_link=True)
    except (PayrequestError, ValidationError) as exc:
        flash(request, i18n.problem(exc, LABELS), "error")
        return _back(customer_id)
    text, kind = sent_text(sent, i18n.gettext("Payment request sent."))
    flash(request, text, kind, topic=f"request:{sent.reference}")
    if sent.link_channel is not None:
        flash(request, _link_sent(sent.link_channel))
    elif sent.link_problem is not None:
        flash(request, _link_problem(sent.link_problem), "error")
    return _back(customer_id)


def _link_problem(exc: Exception) -> str:
    """Why a payment link could not be sent: a rule (PayrequestError) or the gateway."""
    if isinstance(exc, PayrequestError):
        return i18n.problem(exc, LABELS)
    return i18n.gettext("The link could not be sent: %(error)s") % {"error": exc}


def _link_sent(channel: str) -> str:
    if channel == "sms":
        return i18n.gettext("Payment link sent by SMS.")
    return i18n.gettext("Payment link sent by email.")


@router.post("/requests/{request_id}/cancel")
async def cancel_request(
    request: Request, user: Writer, runtime: RuntimeDep, request_id: int
) -> RedirectResponse:
    try:
        cancelled = await commands.cancel(runtime, request_id=request_id, user_id=user.id)
    except TryAgainLater as exc:  # no job cancels: staff try again after the wait
        flash(request, waiting_text(exc, done_later=False), "error")
        return await _back_to_request(runtime, request_id)
    except (PayrequestError, ProviderError) as exc:
        flash(request, i18n.problem(exc, LABELS), "error")
        return await _back_to_request(runtime, request_id)
    flash(request, i18n.gettext("Request cancelled."))
    return _back(cancelled.customer_id)


@router.post("/requests/{request_id}/retry")
async def retry(
    request: Request,
    user: Writer,
    runtime: RuntimeDep,
    request_id: int,
    phone: Annotated[str, Form()] = "",
    flow: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """A new attempt; the form may change the number or the flow (push <-> QR/link)."""
    user_flow = chosen_flow(flow, phone) if flow else None
    try:
        sent = await commands.retry(
            runtime,
            request_id=request_id,
            user_id=user.id,
            phone=phone.strip() or None,
            user_flow=user_flow,
        )
    except (PayrequestError, ValidationError) as exc:
        flash(request, i18n.problem(exc, LABELS), "error")
        return await _back_to_request(runtime, request_id)
    text, kind = sent_text(sent, i18n.gettext("A new request was sent."))
    flash(request, text, kind, topic=f"request:{sent.reference}")
    return _back(sent.customer_id)


@router.post("/requests/{request_id}/link")
async def send_payment_link(
    request: Request,
    user: Writer,
    runtime: RuntimeDep,
    request_id: int,
    channel: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Send a waiting request's link (QR or card) to the customer's phone or email on file."""
    try:
        payment = await links.send_link(runtime, request_id=request_id, channel=channel)
    except (PayrequestError, NotifyError) as exc:
        flash(request, _link_problem(exc), "error")
    else:
        flash(request, _link_sent(channel))
        if back != "request":
            return _back(payment.customer_id)
    if back == "request":
        return RedirectResponse(f"/requests/{request_id}", status.HTTP_303_SEE_OTHER)
    return await _back_to_request(runtime, request_id)


@router.post("/requests/{request_id}/refund")
async def refund(
    request: Request,
    user: Writer,
    runtime: RuntimeDep,
    request_id: int,
    amount: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> RedirectResponse:
    here = RedirectResponse(f"/requests/{request_id}", status.HTTP_303_SEE_OTHER)
    try:
        refunded = await commands.refund(
            runtime,
            request_id=request_id,
            amount=amount,
            reason=reason or i18n.gettext("Refund"),
            user_id=user.id,
        )
    except Missing:
        raise HTTPException(status.HTTP_404_NOT_FOUND) from None
    except PayrequestError as exc:
        flash(request, i18n.error_text(exc), "error")
        return here
    waiting = refunded.waiting
    flash(request, waiting_text(waiting) if waiting else i18n.gettext("Refund sent."))
    return here


async def _back_to_request(runtime: Runtime, request_id: int) -> RedirectResponse:
    async with runtime.read_sessions() as session:
        stored = await repository.get(session, request_id)
    if stored is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    return _back(stored.customer_id)


@router.get("/requests", response_class=HTMLResponse)
async def request_list(
    request: Request,
    user: StaffUser,
    session: ReadSessionDep,
    status_filter: str = "",
    page: int = 1,
) -> HTMLResponse:
    page = max(page, 1)
    rows = await read.newest_with_customer_names(
        session,
        status=status_filter if status_filter in {s.value for s in Status} else None,
        limit=PAGE_SIZE + 1,
        offset=(page - 1) * PAGE_SIZE,
    )
    return render(
        request,
        "requests/list.html",
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        page=page,
        status_filter=status_filter,
        statuses=[s.value for s in Status],
        export=this_month(business_day(utcnow())) if user.role in WRITERS else None,
    )


async def detail_context(
    session: AsyncSession, request_id: int, card_name: str | None = None
) -> dict[str, Any]:
    payment = await read.with_invoice_links(session, request_id)
    if payment is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, i18n.gettext("No such payment request"))
    timeline = await read.timeline(session, request_id)
    invoice_ids = [link.invoice_id for link in payment.invoice_links]
    invoices = {i.id: i for i in await invoices_repo.many(session, invoice_ids)}
    allocations = await ledger_repo.allocations_for_request(session, request_id)
    return {
        "payment": payment,
        "customer": await customers.get(session, payment.customer_id),
        "timeline": timeline,
        "links": [(link, invoices[link.invoice_id]) for link in payment.invoice_links],
        "invoices": invoices,
        "allocations": allocations,
        "credit": await ledger_repo.credit_for_request(session, request_id),
        "refunds": await ledger_repo.refunds_for_request(session, request_id),
        "qr": qr_code(payment) if shows_code(payment) else None,
        "card_link": link_kind(payment, card_name) == CARD,
    }


@router.get("/requests/{request_id}", response_class=HTMLResponse)
async def request_detail(
    request: Request, user: StaffUser, session: ReadSessionDep, runtime: RuntimeDep, request_id: int
) -> HTMLResponse:
    context = await detail_context(session, request_id, runtime.providers.card_name)
    return render(request, "requests/detail.html", **context)


@router.get("/requests/{request_id}/live", response_class=HTMLResponse)
async def request_detail_part(
    request: Request, user: StaffUser, session: ReadSessionDep, runtime: RuntimeDep, request_id: int
) -> HTMLResponse:
    context = await detail_context(session, request_id, runtime.providers.card_name)
    return render(request, "requests/_detail.html", **context)
