"""Getting into the portal: redeem a magic link, ask for a fresh one, sign out."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from payrequest.kit import urls
from payrequest.portal import service as portal
from payrequest.ratelimit import service as ratelimit
from payrequest.ratelimit.service import Limit
from payrequest.web import i18n
from payrequest.web.auth import check_csrf
from payrequest.web.deps import RuntimeDep
from payrequest.web.portal.links import deliver_link
from payrequest.web.portal.session import (
    SESSION_CUSTOMER,
    SESSION_LANGUAGE,
    current_customer,
    portal_language,
)
from payrequest.web.render import render

router = APIRouter()
log = logging.getLogger(__name__)
CONTACT_LIMITS = (Limit(3, timedelta(hours=1)), Limit(10, timedelta(days=1)))
IP_LIMITS = (Limit(10, timedelta(hours=1)),)


def _language(request: Request) -> None:
    """Before sign-in: the language chosen on the page, else the installation's default."""
    default = request.app.state.settings.default_locale
    i18n.set_language(portal_language(request, None, default=default))


@router.get("/portal/start", response_class=HTMLResponse)
async def start(request: Request, runtime: RuntimeDep) -> Response:
    if await current_customer(request, runtime) is not None:
        return RedirectResponse("/portal", status_code=status.HTTP_303_SEE_OTHER)
    _language(request)
    return render(request, "portal/start.html", sent=False)


@router.post("/portal/start", response_class=HTMLResponse)
async def request_link(
    request: Request,
    runtime: RuntimeDep,
    contact: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Always the same answer, whether or not we know the address."""
    check_csrf(request, csrf)
    _language(request)
    address = request.client.host if request.client else "unknown"
    key = f"portal-link:contact:{contact.strip().lower()}"
    async with runtime.sessions() as session, session.begin():
        by_ip = await ratelimit.take(session, key=f"portal-link:ip:{address}", limits=IP_LIMITS)
        by_contact = await ratelimit.take(session, key=key, limits=CONTACT_LIMITS)
        if not (by_ip.allowed and by_contact.allowed):
            return render(
                request,
                "portal/start.html",
                status_code=429,
                sent=False,
                error=i18n.gettext("Too many links asked for. Try again later."),
            )
        found = await portal.find_by_contact(session, contact) if contact.strip() else None
        issued = None
        if found is not None:
            customer, channel = found
            issued = await portal.issue_link(session, customer_id=customer.id, channel=channel)
    if found is not None and issued is not None:
        try:
            await deliver_link(runtime, customer=customer, channel=channel, issued=issued)
        except Exception:
            log.exception("could not send a portal link to customer %s", customer.id)
    return render(request, "portal/start.html", sent=True)


@router.get(urls.PORTAL_LINK, response_class=HTMLResponse)
async def open_link(request: Request, runtime: RuntimeDep, token: str) -> Response:
    async with runtime.sessions() as session, session.begin():
        customer_id = await portal.redeem_link(session, token=token)
    if customer_id is None:
        _language(request)
        return render(
            request,
            "portal/start.html",
            status_code=410,
            sent=False,
            error=i18n.gettext(
                "This link has expired or was already used. Ask for a new one below."
            ),
        )
    language = request.session.get(SESSION_LANGUAGE)
    request.session.clear()  # a new session: nothing from before carries over
    request.session[SESSION_CUSTOMER] = customer_id
    if isinstance(language, str):
        request.session[SESSION_LANGUAGE] = language
    return RedirectResponse("/portal", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/portal/logout")
async def logout(request: Request, csrf: Annotated[str, Form()] = "") -> RedirectResponse:
    check_csrf(request, csrf)
    request.session.pop(SESSION_CUSTOMER, None)
    return RedirectResponse("/portal/start", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/portal/language")
async def choose_language(
    request: Request,
    language: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "/portal",
) -> RedirectResponse:
    check_csrf(request, csrf)
    if language in i18n.LANGUAGES:
        request.session[SESSION_LANGUAGE] = language
    ours = back.startswith(("/portal", "/receipts/")) and not back.startswith("//")
    target = back if ours else "/portal"
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
