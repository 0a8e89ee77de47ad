"""Receipts: in the portal for the signed-in customer, and read-only for whoever holds the
payment's signed receipt link (sent by SMS or email; no portal access needed).

A receipt link names a payment, not a business: its reference is looked up across
organisations (`ALL`, that one lookup), then the page is read acting for the payment's
organisation (db.scope)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse

from payrequest.db.scope import ALL, enter, scoped_to
from payrequest.kit import urls
from payrequest.kit.signing import TokenExpired, TokenInvalid
from payrequest.portal import service as portal
from payrequest.portal.receipts import Receipt, receipt_of
from payrequest.web import i18n
from payrequest.web.deps import ReadSessionDep, RuntimeDep
from payrequest.web.portal.session import PortalCustomer, portal_language
from payrequest.web.render import render

router = APIRouter()


def _page(request: Request, receipt: Receipt, *, public: bool) -> HTMLResponse:
    """The receipt; `public`: read by a link, so no portal navigation and no live updates."""
    context: dict[str, Any] = {"customer": None} if public else {}
    return render(request, "portal/receipt.html", receipt=receipt, public=public, **context)


@router.get(urls.PORTAL_RECEIPT, response_class=HTMLResponse)
async def portal_receipt(
    request: Request,
    customer: PortalCustomer,
    runtime: RuntimeDep,
    session: ReadSessionDep,
    reference: str,
) -> HTMLResponse:
    receipt = await receipt_of(
        session, reference, business=runtime.settings.business, customer_id=customer.id
    )
    if receipt is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    return _page(request, receipt, public=False)


@router.get(urls.RECEIPT, response_class=HTMLResponse)
async def linked_receipt(request: Request, runtime: RuntimeDep, token: str) -> HTMLResponse:
    """The receipt a signed link names, without signing in; in the language chosen on the
    page, else the payer's."""
    try:
        reference = runtime.urls.receipt_reference(token)
    except (TokenExpired, TokenInvalid) as exc:
        return _gone(
            request, runtime.settings.default_locale, expired=isinstance(exc, TokenExpired)
        )
    async with runtime.read_sessions(info=scoped_to(ALL)) as session:
        organisation_id = await portal.payment_organisation(session, reference=reference)
        if organisation_id is not None:
            request.state.business = await portal.business_of(session, organisation_id)
    if organisation_id is None:
        return _gone(request, runtime.settings.default_locale, expired=False)
    enter(organisation_id)
    async with runtime.read_sessions() as session:
        receipt = await receipt_of(session, reference, business=runtime.settings.business)
    if receipt is None:
        return _gone(request, runtime.settings.default_locale, expired=False)
    i18n.set_language(portal_language(request, receipt.payer))
    return _page(request, receipt, public=True)


def _gone(request: Request, default_language: str, *, expired: bool) -> HTMLResponse:
    """A link that is too old (410) or not ours (404), said in words."""
    i18n.set_language(portal_language(request, None, default=default_language))
    return render(
        request,
        "portal/receipt_gone.html",
        status_code=status.HTTP_410_GONE if expired else status.HTTP_404_NOT_FOUND,
        customer=None,
        expired=expired,
    )
