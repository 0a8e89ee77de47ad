"""Payment requests from the staff side: send, cancel, retry, send a waiting request's link (a
QR code's or a card payment's), refund; list and detail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from payrequest.customers import repository as customers
from payrequest.errors import PayrequestError
from payrequest.exports.period import business_day, this_month
from payrequest.invoices import repository as invoices_repo
from payrequest.kit.clock import utcnow
from payrequest.kit.money import parse_money
from payrequest.ledger import repository as ledger_repo
from payrequest.notify.errors import NotifyError
from payrequest.payment_requests import read, refunds, repository, workflows
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import create_request, retry_request
from payrequest.payment_requests.state import Status
from payrequest.providers.base import ProviderError, TryAgainLater, UserFlow
from payrequest.runtime import Runtime
from payrequest.web import i18n
from payrequest.web.admin.request_forms import (
    CARD,
    LABELS,
    amount_minor,
    chosen_flow,
    chosen_provider,
    lifetime_minutes,
    link_kind,
    qr_code,
    shows_code,
)
from payrequest.web.admin.request_link import send_card_link_now, send_link
from payrequest.web.auth import WRITERS, StaffUser, Writer
from payrequest.web.deps import AsyncSession, ReadSessionDep, RuntimeDep
from payrequest.web.flash import flash
from payrequest.web.nudge import send_now, sent_text, waiting_text, wake
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
        card = await chosen_provider(runtime, flow)  # "Card payment link": the card provider
        data = NewPaymentRequest(
            customer_id=customer_id,
            invoice_ids=invoice_ids,
            phone=phone.strip() if user_flow is UserFlow.push else None,
            user_flow=user_flow,
            amount=amount_minor(amount, currency),
            lifetime_minutes=lifetime_minutes(expiry, expiry_date, utcnow()),
            created_by_user_id=user.id,
            origin="staff",
            provider=card,
        )
        lifetime = await (runtime.lifetime_for(card) if card else runtime.lifetime())
        async with runtime.sessions() as session, session.begin():
            created = await create_request(session, data=data, lifetime=lifetime)
            reference, request_id = created.reference, created.id
    except (PayrequestError, ValidationError) as exc:
        flash(request, i18n.problem(exc, LABELS), "error")
        return _back(customer_id)
    result = await send_now(request, runtime, reference)
    text, kind = sent_text(result, i18n.gettext("Payment request sent."))
    flash(request, text, kind, topic=f"request:{reference}")
    if card:
        await _card_link_now(request, runtime, request_id)
    return _back(customer_id)


async def _card_link_now(request: Request, runtime: Runtime, request_id: int) -> None:
    """A card payment link goes on to the customer at once, once the provider gave it."""
    try:
        channel = await send_card_link_now(runtime, request_id=request_id)
    except PayrequestError as exc:
        flash(request, i18n.problem(exc, LABELS), "error")
    except NotifyError as exc:
        flash(
            request, i18n.gettext("The link could not be sent: %(error)s") % {"error": exc}, "error"
        )
    else:
        if channel is not None:
            flash(request, _link_sent(channel))


def _link_sent(channel: str) -> str:
    if channel == "sms":
        return i18n.gettext("Payment link sent by SMS.")
    return i18n.gettext("Payment link sent by email.")


@router.post("/requests/{request_id}/cancel")
async def cancel_request(
    request: Request, user: Writer, runtime: RuntimeDep, request_id: int
) -> RedirectResponse:
    try:
        cancelled = await workflows.cancel(
            runtime.sessions, runtime.providers, request_id=request_id, user_id=user.id
        )
    except TryAgainLater as exc:  # no job cancels: staff try again after the wait
        flash(request, waiting_text(exc, done_later=False), "error")
        return await _back_to_request(runtime, request_id)
    except (PayrequestError, ProviderError) as exc:
        flash(request, i18n.problem(exc, LABELS), "error")
        return await _back_to_request(runtime, request_id)
    wake(request)
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
        async with runtime.sessions() as session, session.begin():
            # The new attempt goes through the provider of the old one, within its limits.
            name = await repository.provider_of(session, request_id)
            new = await retry_request(
                session,
                request_id=request_id,
                lifetime=await runtime.lifetime_for(name or runtime.providers.default_name),
                created_by_user_id=user.id,
                phone=phone.strip() or None,
                user_flow=user_flow,
            )
            reference, customer_id = new.reference, new.customer_id
    except (PayrequestError, ValidationError) as exc:
        flash(request, i18n.problem(exc, LABELS), "error")
        return await _back_to_request(runtime, request_id)
    result = await send_now(request, runtime, reference)
    text, kind = sent_text(result, i18n.gettext("A new request was sent."))
    flash(request, text, kind, topic=f"request:{reference}")
    return _back(customer_id)


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
        payment = await send_link(runtime, request_id=request_id, channel=channel)
    except PayrequestError as exc:
        flash(request, i18n.problem(exc, LABELS), "error")
    except NotifyError as exc:
        flash(
            request, i18n.gettext("The link could not be sent: %(error)s") % {"error": exc}, "error"
        )
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
    try:
        async with runtime.sessions() as session, session.begin():
            stored = await repository.get(session, request_id)
            if stored is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND)
            minor = parse_money(amount, stored.currency).amount if amount.strip() else None
            created = await refunds.request_refund(
                session,
                payment_request_id=request_id,
                amount=minor,
                reason=reason or i18n.gettext("Refund"),
                user_id=user.id,
            )
            refund_id = created.id
    except PayrequestError as exc:
        flash(request, i18n.error_text(exc), "error")
        return RedirectResponse(f"/requests/{request_id}", status.HTTP_303_SEE_OTHER)
    message = i18n.gettext("Refund sent.")
    try:
        await refunds.send_refund(runtime.sessions, runtime.providers, refund_id=refund_id)
    except TryAgainLater as exc:  # the refund job sends it after the wait, with the same key
        message = waiting_text(exc)
    except ProviderError:
        pass  # the refund job retries with the same key
    wake(request)
    flash(request, message)
    return RedirectResponse(f"/requests/{request_id}", status.HTTP_303_SEE_OTHER)


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
