"""The portal pages a customer uses: open invoices, paying, the payment's live status,
receipts. Everything is read through the signed-in customer: another customer's invoice,
request or receipt answers 404, exactly like one that does not exist."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from payrequest.customers.models import Customer
from payrequest.errors import PayrequestError
from payrequest.invoices.models import Invoice
from payrequest.kit import urls
from payrequest.kit.clock import utcnow
from payrequest.kit.markets import currency_of
from payrequest.kit.phone import parse_phone
from payrequest.ledger import repository as ledger_repo
from payrequest.ledger import service as ledger
from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import create_request, retry_request
from payrequest.providers.base import UserFlow
from payrequest.ratelimit import service as ratelimit
from payrequest.ratelimit.service import Limit
from payrequest.web import i18n
from payrequest.web.deps import ReadSessionDep, RuntimeDep
from payrequest.web.nudge import send_now
from payrequest.web.portal.session import PortalAction, PortalCustomer
from payrequest.web.render import render

router = APIRouter()
# A pay button sends pushes to a phone (docs/goals.md#security, S4).
PHONE_LIMITS = (Limit(3, timedelta(minutes=10)), Limit(10, timedelta(days=1)))
CUSTOMER_LIMITS = (Limit(10, timedelta(hours=1)), Limit(30, timedelta(days=1)))
IP_LIMITS = (Limit(20, timedelta(hours=1)),)


async def _request_of(
    session: ReadSessionDep, customer: Customer, reference: str
) -> PaymentRequest:
    stmt = (
        select(PaymentRequest)
        .where(PaymentRequest.reference == reference, PaymentRequest.customer_id == customer.id)
        .options(selectinload(PaymentRequest.invoice_links))
    )
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    return found


@router.get("/portal", response_class=HTMLResponse)
async def home(request: Request, customer: PortalCustomer, session: ReadSessionDep) -> HTMLResponse:
    rows = await ledger_repo.invoices_with_balance(session, customer.id)
    stmt = (
        select(PaymentRequest)
        .where(PaymentRequest.customer_id == customer.id)
        .order_by(PaymentRequest.id.desc())
        .limit(30)
    )
    payments = list((await session.execute(stmt)).scalars())
    return render(
        request,
        "portal/home.html",
        customer=customer,
        open_rows=[r for r in rows if r.balance.open_amount > 0],
        paid_rows=[r for r in rows if r.balance.status.value == "paid"][-20:],
        balances=await ledger.balances(session, customer.id),
        payments=payments,
        today=utcnow().date(),
    )


def _is_phone(request: Request) -> bool:
    agent = request.headers.get("user-agent", "").lower()
    return any(word in agent for word in ("iphone", "android", "mobile"))


@router.get("/portal/pay", response_class=HTMLResponse)
async def pay_form(
    request: Request,
    customer: PortalCustomer,
    session: ReadSessionDep,
    invoice_ids: Annotated[list[int], Query()] = [],  # noqa: B006 - FastAPI query default
) -> Response:
    rows = [
        r
        for r in await ledger_repo.invoices_with_balance(session, customer.id)
        if r.id in set(invoice_ids) and r.balance.open_amount > 0
    ]
    if not rows:
        return RedirectResponse("/portal", status_code=status.HTTP_303_SEE_OTHER)
    return render(
        request,
        "portal/pay.html",
        customer=customer,
        rows=rows,
        total=sum(r.balance.open_amount for r in rows),
        currency=rows[0].currency,
        on_phone=_is_phone(request),
        error=None,
        phone=customer.phone or "",
    )


async def _limits(
    session: Any, *, customer: Customer, phone: str | None, address: str
) -> str | None:
    """A friendly reason if a limit is reached; counts this attempt otherwise."""
    checks = [(f"pay:customer:{customer.id}", CUSTOMER_LIMITS), (f"pay:ip:{address}", IP_LIMITS)]
    if phone:
        checks.append((f"pay:phone:{phone}", PHONE_LIMITS))
    for key, limits in checks:
        verdict = await ratelimit.check(session, key=key, limits=limits)
        if not verdict.allowed:
            minutes = max(1, int((verdict.retry_after or timedelta()).total_seconds() // 60))
            return i18n.gettext(
                "You have asked for several payments in a short time. "
                "Please wait {minutes} minutes and try again."
            ).format(minutes=minutes)
    for key, _limits in checks:
        await ratelimit.hit(session, key=key)
    return None


@router.post("/portal/pay", response_model=None)
async def pay(
    request: Request,
    customer: PortalAction,
    runtime: RuntimeDep,
    invoice_ids: Annotated[list[int], Form()] = [],  # noqa: B006 - FastAPI form default
    phone: Annotated[str, Form()] = "",
    method: Annotated[str, Form()] = "push",
) -> Response:
    flow = {"push": UserFlow.push, "app": UserFlow.redirect, "qr": UserFlow.qr}.get(method)
    address = request.client.host if request.client else "unknown"
    try:
        normalised = parse_phone(phone, customer.country).e164 if flow is UserFlow.push else None
        if flow is None:
            raise PayrequestError(i18n.gettext("Choose how you want to pay"))
        async with runtime.sessions() as session, session.begin():
            refused = await _limits(session, customer=customer, phone=normalised, address=address)
            if refused:
                raise PayrequestError(refused)
            created = await create_request(
                session,
                data=NewPaymentRequest(
                    customer_id=customer.id,
                    invoice_ids=invoice_ids,
                    phone=normalised,
                    user_flow=flow,
                    origin="portal",
                ),
                lifetime=runtime.lifetime,
            )
            reference = created.reference
    except (PayrequestError, ValidationError) as exc:
        async with runtime.read_sessions() as session:
            rows = [
                r
                for r in await ledger_repo.invoices_with_balance(session, customer.id)
                if r.id in set(invoice_ids) and r.balance.open_amount > 0
            ]
        message = exc.message if isinstance(exc, PayrequestError) else str(exc)
        return render(
            request,
            "portal/pay.html",
            status_code=422,
            customer=customer,
            rows=rows,
            total=sum(r.balance.open_amount for r in rows),
            currency=rows[0].currency if rows else currency_of(customer.country),
            on_phone=_is_phone(request),
            error=message,
            phone=phone,
        )
    await send_now(request, runtime, reference)
    return RedirectResponse(f"/portal/payments/{reference}", status_code=status.HTTP_303_SEE_OTHER)


async def _payment_context(
    session: ReadSessionDep, customer: Customer, reference: str
) -> dict[str, Any]:
    payment = await _request_of(session, customer, reference)
    ids = [link.invoice_id for link in payment.invoice_links]
    invoices = list((await session.execute(select(Invoice).where(Invoice.id.in_(ids)))).scalars())
    remaining = max(0, int((payment.expires_at - utcnow()).total_seconds() * 1000))
    return {
        "customer": customer,
        "payment": payment,
        "invoices": invoices,
        "remaining_ms": remaining,
    }


@router.get("/portal/payments/{reference}", response_class=HTMLResponse)
async def payment_page(
    request: Request, customer: PortalCustomer, session: ReadSessionDep, reference: str
) -> HTMLResponse:
    return render(
        request, "portal/payment.html", **await _payment_context(session, customer, reference)
    )


@router.get("/portal/payments/{reference}/live", response_class=HTMLResponse)
async def payment_part(
    request: Request, customer: PortalCustomer, session: ReadSessionDep, reference: str
) -> HTMLResponse:
    return render(
        request, "portal/_payment.html", **await _payment_context(session, customer, reference)
    )


@router.post("/portal/payments/{reference}/retry")
async def retry(
    request: Request, customer: PortalAction, runtime: RuntimeDep, reference: str
) -> RedirectResponse:
    address = request.client.host if request.client else "unknown"
    try:
        async with runtime.sessions() as session, session.begin():
            old = await _request_of(session, customer, reference)
            refused = await _limits(session, customer=customer, phone=old.phone, address=address)
            if refused:
                raise PayrequestError(refused)
            new = await retry_request(session, request_id=old.id, lifetime=runtime.lifetime)
            new_reference = new.reference
    except PayrequestError:
        return RedirectResponse(f"/portal/payments/{reference}", status.HTTP_303_SEE_OTHER)
    await send_now(request, runtime, new_reference)
    return RedirectResponse(f"/portal/payments/{new_reference}", status.HTTP_303_SEE_OTHER)


@router.get(urls.PORTAL_RECEIPT, response_class=HTMLResponse)
async def receipt(
    request: Request, customer: PortalCustomer, session: ReadSessionDep, reference: str
) -> HTMLResponse:
    payment = await _request_of(session, customer, reference)
    if payment.status not in ("paid", "refunded"):
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    allocations = await ledger_repo.allocations_for_request(session, payment.id)
    ids = [a.invoice_id for a in allocations]
    invoices = {
        i.id: i
        for i in (
            await session.execute(
                select(Invoice).where(Invoice.id.in_(ids)).options(selectinload(Invoice.lines))
            )
        ).scalars()
    }
    return render(
        request,
        "portal/receipt.html",
        customer=customer,
        payment=payment,
        allocations=allocations,
        invoices=invoices,
        credit=await ledger_repo.credit_for_request(session, payment.id),
    )


@router.get(urls.PORTAL_RETURNED)
async def returned(reference: str = "") -> RedirectResponse:
    """Where the Vipps MobilePay app or landing page sends the customer back to."""
    target = f"/portal/payments/{reference}" if reference else "/portal"
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
