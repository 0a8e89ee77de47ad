"""The portal pages a customer uses to see and pay invoices: open invoices, one invoice with
its lines, paying. Everything is read through the signed-in customer: another customer's
invoice or request answers 404, exactly like one that does not exist."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any

from babel.numbers import format_decimal
from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from payrequest.commands import portal as portal_commands
from payrequest.commands.payment_requests import card_provider
from payrequest.commands.sending import Sent
from payrequest.customers import service as customer_service
from payrequest.customers.models import Customer
from payrequest.db.scope import ALL, scoped_to
from payrequest.errors import N_, Conflict, PayrequestError
from payrequest.invoices.lines import QUANTITY_SCALE
from payrequest.kit import urls
from payrequest.kit.clock import utcnow
from payrequest.kit.markets import currency_of
from payrequest.kit.money import Money, minor_digits
from payrequest.portal import paying, views
from payrequest.portal import service as portal
from payrequest.runtime import Runtime
from payrequest.web import i18n
from payrequest.web.deps import ReadSessionDep, RuntimeDep
from payrequest.web.portal.session import (
    PortalAction,
    PortalCustomer,
    current_customer,
    partial_payments,
    remembered_start_url,
    start_url,
)
from payrequest.web.render import render

router = APIRouter()
BRAND_HEX = re.compile(r"[0-9a-f]{6}")  # organisations.profile.BRAND_COLOUR without its `#`
LABELS = {"phone": N_("Your MobilePay number"), "amount": N_("Amount to pay")}


def remaining_ms(waiting: views.Waiting) -> int:
    """Milliseconds until a waiting request expires (for the page's countdown)."""
    return max(0, int((waiting.expires_at - utcnow()).total_seconds() * 1000))


@router.get("/portal", response_class=HTMLResponse)
async def home(request: Request, customer: PortalCustomer, session: ReadSessionDep) -> HTMLResponse:
    view = await views.home_of(session, customer.id)
    return render(
        request,
        "portal/home.html",
        customer=customer,
        view=view,
        remaining_ms=remaining_ms,
        today=utcnow().date(),
    )


@router.post("/portal/reminders")
async def reminders(
    request: Request,
    customer: PortalAction,
    runtime: RuntimeDep,
    state: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """The customer opts out of reminders, or back in."""
    if state in ("on", "opted_out"):
        async with runtime.sessions() as session, session.begin():
            await customer_service.set_reminders(session, customer_id=customer.id, state=state)
    return RedirectResponse("/portal#portal-reminders", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/portal/invoices/{invoice_id}", response_class=HTMLResponse)
async def invoice_page(
    request: Request, customer: PortalCustomer, session: ReadSessionDep, invoice_id: int
) -> HTMLResponse:
    view = await views.invoice_of(session, customer.id, invoice_id)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    return render(
        request,
        "portal/invoice.html",
        customer=customer,
        view=view,
        quantity=_quantity,
        remaining_ms=remaining_ms,
        today=utcnow().date(),
    )


def _quantity(milli: int) -> str:
    """A line's quantity as the reader writes numbers: `1,5` (nb, da), `1.5` (en)."""
    value = Decimal(milli) / QUANTITY_SCALE
    return str(format_decimal(value, locale=i18n.babel_locale(), decimal_quantization=False))


def _is_phone(request: Request) -> bool:
    agent = request.headers.get("user-agent", "").lower()
    return any(word in agent for word in ("iphone", "android", "mobile"))


def _amount_text(amount: Money) -> str:
    """An amount as the reader types it into a field: `1234,50` (nb, da), `1234.50` (en)."""
    pattern = "0." + "0" * minor_digits(amount.currency)
    return str(format_decimal(amount.to_decimal(), pattern, locale=i18n.babel_locale()))


async def _pay_page(
    request: Request,
    session: Any,
    *,
    customer: Customer,
    runtime: Runtime,
    invoice_ids: Sequence[int],
    status_code: int = 200,
    **form: Any,
) -> Response:
    """The pay page for the chosen invoices: those still open and free to pay, and those
    a request is already waiting on (to follow instead)."""
    rows = await paying.open_invoices(session, customer.id, invoice_ids)
    waiting = await views.waiting_by_invoice(session, customer.id, [r.id for r in rows])
    payable = [r for r in rows if r.id not in waiting]
    if not rows:
        return RedirectResponse("/portal", status_code=status.HTTP_303_SEE_OTHER)
    currency = payable[0].currency if payable else currency_of(customer.country)
    total = Money(sum(r.balance.open_amount for r in payable), currency)
    form.setdefault("phone", customer.phone or "")
    form.setdefault("amount", _amount_text(total))
    return render(
        request,
        "portal/pay.html",
        status_code=status_code,
        customer=customer,
        rows=payable,
        busy=[(r, waiting[r.id]) for r in rows if r.id in waiting],
        total=total,
        partial=partial_payments(request),
        minimum=paying.minimum_part(currency),
        on_phone=_is_phone(request),
        card=await card_provider(runtime) is not None,
        remaining_ms=remaining_ms,
        error=form.pop("error", None),
        follow=form.pop("follow", None),
        **form,
    )


@router.get("/portal/pay", response_class=HTMLResponse)
async def pay_form(
    request: Request,
    customer: PortalCustomer,
    session: ReadSessionDep,
    runtime: RuntimeDep,
    invoice_ids: Annotated[list[int], Query()] = [],  # noqa: B006 - FastAPI query default
) -> Response:
    return await _pay_page(
        request, session, customer=customer, runtime=runtime, invoice_ids=invoice_ids
    )


@router.post("/portal/pay", response_model=None)
async def pay(
    request: Request,
    customer: PortalAction,
    runtime: RuntimeDep,
    invoice_ids: Annotated[list[int], Form()] = [],  # noqa: B006 - FastAPI form default
    phone: Annotated[str, Form()] = "",
    method: Annotated[str, Form()] = "push",
    amount: Annotated[str | None, Form(max_length=40)] = None,
    save_phone: Annotated[bool, Form()] = False,
) -> Response:
    payment = portal_commands.Payment(
        customer=customer,
        address=request.client.host if request.client else "unknown",
        invoice_ids=invoice_ids,
        method=method,
        phone=phone,
        amount=amount,
        partial_allowed=partial_payments(request),
        save_phone=save_phone,
    )
    try:
        sent = await portal_commands.pay(runtime, payment)
    except (PayrequestError, ValidationError) as exc:
        return await _refused(request, customer, runtime, exc, invoice_ids, phone, amount)
    return after_sending(runtime, sent)


def after_sending(runtime: Runtime, sent: Sent) -> RedirectResponse:
    """Where the browser goes once a request is sent: a card payment straight on to the
    provider's payment page when the send gave us its address, else (and every other
    payment) to the payment's page, which follows it (and links to the card payment page
    once there is one)."""
    target = f"/portal/payments/{sent.reference}"
    card = sent.provider == runtime.providers.card_name
    if card and sent.status == "pending" and sent.redirect_url:
        target = sent.redirect_url
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


async def _refused(
    request: Request,
    customer: Customer,
    runtime: Runtime,
    exc: Exception,
    invoice_ids: Sequence[int],
    phone: str,
    amount: str | None,
) -> Response:
    """The pay page again with what went wrong; a request that got to an invoice first (a
    race with another tab or staff) is named, with a link to follow it."""
    follow = None
    busy = isinstance(exc, Conflict) and exc.code == "invoice_busy"
    async with runtime.read_sessions() as session:
        if busy:
            waiting = await views.waiting_by_invoice(session, customer.id, invoice_ids)
            follow = next(iter(waiting.values()), None)
        message = (
            i18n.gettext("A payment for this invoice is already waiting for your approval.")
            if busy
            else i18n.problem(exc, LABELS)
        )
        form: dict[str, Any] = {"phone": phone} | ({"amount": amount} if amount else {})
        return await _pay_page(
            request,
            session,
            customer=customer,
            runtime=runtime,
            invoice_ids=invoice_ids,
            status_code=409 if busy else 422,
            error=message,
            follow=follow,
            **form,
        )


@router.get("/portal/brand/{colour}.css")
async def brand_colour(colour: str) -> Response:
    """The accent colour of a business's portal header, as a style sheet: the pages' policy
    allows no inline styles (web.security_headers), so the header links this one. It holds
    nothing but the colour its address names, the same for everyone."""
    if not BRAND_HEX.fullmatch(colour):
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    return Response(
        f":root {{ --business-accent: #{colour}; }}\n",
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


@router.get(urls.PORTAL_RETURNED)
async def returned(request: Request, runtime: RuntimeDep, reference: str = "") -> RedirectResponse:
    """Where the Vipps MobilePay app or landing page, or the card payment page (paid or
    not), sends the customer back to. Signed in: the payment's page, as it stands after
    one look at the provider. Not (the app opened another browser): the start page of the business
    the payment is for, found by its reference across organisations (`ALL`, that one lookup)."""
    customer = await current_customer(request, runtime)
    if customer is not None:
        if reference:  # back from paying: ask the provider now rather than wait for news
            await portal_commands.look_again(runtime, customer_id=customer.id, reference=reference)
        target = f"/portal/payments/{reference}" if reference else "/portal"
        return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    slug = None
    if reference:
        async with runtime.read_sessions(info=scoped_to(ALL)) as session:
            organisation_id = await portal.payment_organisation(session, reference=reference)
            slug = await portal.slug_of(session, organisation_id) if organisation_id else None
    target = start_url(slug) if slug else remembered_start_url(request)
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
