"""Getting into the portal: ask for a magic link, open it (a page with a button), press the
button to sign in (a session kept on the server), sign out (that session ends)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from payrequest.kit import urls
from payrequest.portal import service as portal
from payrequest.ratelimit import service as ratelimit
from payrequest.ratelimit.service import Limit
from payrequest.web import i18n
from payrequest.web.auth import check_csrf
from payrequest.web.deps import RuntimeDep
from payrequest.web.portal.links import send_link_if_known
from payrequest.web.portal.session import (
    SESSION_LANGUAGE,
    SESSION_PORTAL,
    current_customer,
    portal_language,
)
from payrequest.web.render import render

router = APIRouter()
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
    """Always the same answer after the same work, whether or not we know the address: the
    limits are counted here, the customer is looked up and sent a link after the answer has
    gone out (`send_link_if_known`, a background task)."""
    check_csrf(request, csrf)
    _language(request)
    address = request.client.host if request.client else "unknown"
    normalised = portal.normalised_contact(contact)
    checks = [
        (f"portal-link:ip:{address}", IP_LIMITS),
        (f"portal-link:contact:{normalised}", CONTACT_LIMITS),
    ]
    async with runtime.sessions() as session, session.begin():
        verdict = await ratelimit.take_all(session, checks)
    if not verdict.allowed:
        return render(
            request,
            "portal/start.html",
            status_code=429,
            sent=False,
            error=i18n.gettext("Too many links asked for. Try again later."),
        )
    answer = render(request, "portal/start.html", sent=True)
    answer.background = BackgroundTask(send_link_if_known, runtime, normalised)
    return answer


def _link_gone(request: Request) -> HTMLResponse:
    _language(request)
    return render(
        request,
        "portal/start.html",
        status_code=410,
        sent=False,
        error=i18n.gettext("This link has expired or was already used. Ask for a new one below."),
    )


@router.get(urls.PORTAL_LINK, response_class=HTMLResponse)
async def open_link(request: Request, runtime: RuntimeDep, token: str) -> Response:
    """Only shows a button: opening a link (a link scanner, a message preview) uses nothing."""
    async with runtime.read_sessions() as session:
        usable = await portal.link_usable(session, token=token)
    if not usable:
        return _link_gone(request)
    _language(request)
    return render(request, "portal/link.html", token=token)


@router.post(urls.PORTAL_LINK, response_class=HTMLResponse)
async def redeem_link(
    request: Request, runtime: RuntimeDep, token: str, csrf: Annotated[str, Form()] = ""
) -> Response:
    """The button: the link is used up and a portal session starts, kept on the server."""
    check_csrf(request, csrf)
    async with runtime.sessions() as session, session.begin():
        started = await portal.sign_in_with_link(session, token=token)
    if started is None:
        return _link_gone(request)
    language = request.session.get(SESSION_LANGUAGE)
    request.session.clear()  # a new session: nothing from before carries over
    request.session[SESSION_PORTAL] = started.token
    if isinstance(language, str):
        request.session[SESSION_LANGUAGE] = language
    return RedirectResponse("/portal", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/portal/logout")
async def logout(
    request: Request, runtime: RuntimeDep, csrf: Annotated[str, Form()] = ""
) -> RedirectResponse:
    """Ends the session on the server too: a copy of the cookie no longer signs in."""
    check_csrf(request, csrf)
    token = request.session.pop(SESSION_PORTAL, None)
    if isinstance(token, str):
        async with runtime.sessions() as session, session.begin():
            await portal.sign_out(session, token=token)
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
