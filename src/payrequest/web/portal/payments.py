"""A portal payment as it happens: its live status with the countdown, the QR code or app
link it needs, and trying again. Only the signed-in customer's own requests are found."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from payrequest.commands import portal as portal_commands
from payrequest.commands.missing import Missing
from payrequest.customers.models import Customer
from payrequest.errors import PayrequestError
from payrequest.kit.clock import utcnow
from payrequest.payment_requests.models import PaymentRequest
from payrequest.portal import views
from payrequest.providers.base import ProviderError
from payrequest.runtime import Runtime
from payrequest.web import i18n
from payrequest.web.deps import ReadSessionDep, RuntimeDep
from payrequest.web.portal.pages import after_sending
from payrequest.web.portal.session import PortalAction, PortalCustomer
from payrequest.web.qr import inline_svg
from payrequest.web.render import render

router = APIRouter()


def _qr(payment: PaymentRequest) -> Markup | None:
    """The QR code of a waiting QR request: the provider's link, drawn here."""
    if payment.user_flow != "qr" or not payment.redirect_url:
        return None
    return inline_svg(
        payment.redirect_url, title=i18n.gettext("QR code: scan it with the Vipps MobilePay app")
    )


async def _payment_context(
    session: ReadSessionDep, runtime: Runtime, customer: Customer, reference: str
) -> dict[str, Any]:
    view = await views.payment_of(session, customer.id, reference)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    remaining = max(0, int((view.payment.expires_at - utcnow()).total_seconds() * 1000))
    return {
        "customer": customer,
        "payment": view.payment,
        "invoices": view.invoices,
        "balances": view.balances,
        "remaining_ms": remaining,
        "qr": _qr(view.payment),
        "business_problem": view.business_problem,
        "card": view.payment.provider == runtime.providers.card_name,
        "attempt_failure": view.attempt_failure,
    }


@router.get("/portal/payments/{reference}", response_class=HTMLResponse)
async def payment_page(
    request: Request,
    customer: PortalCustomer,
    session: ReadSessionDep,
    runtime: RuntimeDep,
    reference: str,
) -> HTMLResponse:
    context = await _payment_context(session, runtime, customer, reference)
    return render(request, "portal/payment.html", **context)


@router.get("/portal/payments/{reference}/live", response_class=HTMLResponse)
async def payment_part(
    request: Request,
    customer: PortalCustomer,
    session: ReadSessionDep,
    runtime: RuntimeDep,
    reference: str,
) -> HTMLResponse:
    context = await _payment_context(session, runtime, customer, reference)
    return render(request, "portal/_payment.html", **context)


@router.post("/portal/payments/{reference}/retry")
async def retry(
    request: Request, customer: PortalAction, runtime: RuntimeDep, reference: str
) -> RedirectResponse:
    """A new attempt at a payment that ended (`commands.portal.retry`); what went wrong shows
    on the payment's page, which follows the request."""
    address = request.client.host if request.client else "unknown"
    try:
        sent = await portal_commands.retry(
            runtime,
            customer_id=customer.id,
            address=address,
            reference=reference,
        )
    except Missing:
        raise HTTPException(status.HTTP_404_NOT_FOUND) from None
    except (PayrequestError, ProviderError):
        return RedirectResponse(f"/portal/payments/{reference}", status.HTTP_303_SEE_OTHER)
    return after_sending(runtime, sent)
