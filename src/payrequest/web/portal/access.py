"""Getting into the portal: ask for a magic link, open it (a page with a button), press the
button to sign in (a session kept on the server), sign out (that session ends).

The start page asks for a link from one organisation: the one its URL names (`?org=<slug>`,
kept in the form), else the installation's first. A slug that names no organisation gets the
same answer after the same work as an address nobody has. A link is looked up by its token
across organisations (`ALL`, that one lookup); the session it starts is the customer's
organisation's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from payrequest.db.scope import ALL, scoped_to
from payrequest.kit import urls
from payrequest.portal import service as portal
from payrequest.ratelimit import service as ratelimit
from payrequest.ratelimit.service import Limit
from payrequest.runtime import Runtime
from payrequest.web import i18n
from payrequest.web.auth import check_csrf
from payrequest.web.deps import RuntimeDep
from payrequest.web.portal.links import send_link_if_known
from payrequest.web.portal.session import (
    SESSION_LANGUAGE,
    SESSION_ORGANISATION,
    SESSION_PORTAL,
    current_customer,
    portal_language,
    remembered_start_url,
)
from payrequest.web.render import render

router = APIRouter()
CONTACT_LIMITS = (Limit(3, timedelta(hours=1)), Limit(10, timedelta(days=1)))
IP_LIMITS = (Limit(10, timedelta(hours=1)),)
SLUG_MAX_LENGTH = 40  # organisations.slug; a longer one names no organisation


def _language(request: Request) -> None:
    """Before sign-in: the language chosen on the page, else the installation's default."""
    default = request.app.state.settings.default_locale
    i18n.set_language(portal_language(request, None, default=default))


def _slug(value: str | None) -> str:
    """The organisation's slug as given in the URL or form (echoed back in the form only)."""
    return (value or "").strip().lower()[:SLUG_MAX_LENGTH]


def _start_page(
    request: Request, *, org: str, sent: bool, status_code: int = 200, error: str | None = None
) -> HTMLResponse:
    return render(
        request, "portal/start.html", status_code=status_code, sent=sent, org=org, error=error
    )


@router.get("/portal/start", response_class=HTMLResponse)
async def start(request: Request, runtime: RuntimeDep, org: str | None = None) -> Response:
    """Whether the slug names an organisation does not show here: the page is the same."""
    if await current_customer(request, runtime) is not None:
        return RedirectResponse("/portal", status_code=status.HTTP_303_SEE_OTHER)
    _language(request)
    return _start_page(request, org=_slug(org), sent=False)


@router.post("/portal/start", response_class=HTMLResponse)
async def request_link(
    request: Request,
    runtime: RuntimeDep,
    contact: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    org: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    """Always the same answer after the same work, whether or not we know the address or
    the organisation: the organisation is looked up and the limits are counted here (in its
    own buckets), the customer is looked up in it and sent a link after the answer has gone
    out (`send_link_if_known`, a background task)."""
    check_csrf(request, csrf)
    _language(request)
    slug = _slug(org if org is not None else request.query_params.get("org"))
    async with runtime.read_sessions() as session:
        organisation = await portal.start_organisation(session, slug)
    organisation_id = organisation.id if organisation is not None else None
    address = request.client.host if request.client else "unknown"
    normalised = portal.normalised_contact(contact)
    checks = [
        (f"portal-link:ip:{address}", IP_LIMITS),
        (f"portal-link:contact:{normalised}", CONTACT_LIMITS),
    ]
    # Counted for the organisation (its own buckets); for a slug that names none, in the
    # installation's (the same statements either way).
    scope = scoped_to(organisation_id) if organisation_id is not None else {}
    async with runtime.sessions(info=scope) as session, session.begin():
        verdict = await ratelimit.take_all(session, checks)
    if not verdict.allowed:
        return _start_page(
            request,
            org=slug,
            sent=False,
            status_code=429,
            error=i18n.gettext("Too many links asked for. Try again later."),
        )
    answer = _start_page(request, org=slug, sent=True)
    if organisation_id is not None:
        answer.background = BackgroundTask(send_link_if_known, runtime, normalised, organisation_id)
    return answer


async def _link_gone(request: Request, runtime: Runtime, token: str) -> HTMLResponse:
    """The start page in place of a link that no longer works, for the link's organisation."""
    _language(request)
    async with runtime.read_sessions(info=scoped_to(ALL)) as session:
        organisation_id = await portal.link_organisation(session, token=token)
        slug = await portal.slug_of(session, organisation_id) if organisation_id else None
    return _start_page(
        request,
        org=slug or "",
        sent=False,
        status_code=410,
        error=i18n.gettext("This link has expired or was already used. Ask for a new one below."),
    )


@router.get(urls.PORTAL_LINK, response_class=HTMLResponse)
async def open_link(request: Request, runtime: RuntimeDep, token: str) -> Response:
    """Only shows a button: opening a link (a link scanner, a message preview) uses nothing."""
    async with runtime.read_sessions(info=scoped_to(ALL)) as session:
        usable = await portal.link_usable(session, token=token)
    if not usable:
        return await _link_gone(request, runtime, token)
    _language(request)
    return render(request, "portal/link.html", token=token)


@router.post(urls.PORTAL_LINK, response_class=HTMLResponse)
async def redeem_link(
    request: Request, runtime: RuntimeDep, token: str, csrf: Annotated[str, Form()] = ""
) -> Response:
    """The button: the link is used up and a portal session starts, kept on the server."""
    check_csrf(request, csrf)
    async with runtime.sessions(info=scoped_to(ALL)) as session, session.begin():
        signed_in = await portal.sign_in_with_link(session, token=token)
        slug = await portal.slug_of(session, signed_in.organisation_id) if signed_in else None
    if signed_in is None:
        return await _link_gone(request, runtime, token)
    language = request.session.get(SESSION_LANGUAGE)
    request.session.clear()  # a new session: nothing from before carries over
    request.session[SESSION_PORTAL] = signed_in.started.token
    if slug is not None:
        request.session[SESSION_ORGANISATION] = slug
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
    return RedirectResponse(remembered_start_url(request), status_code=status.HTTP_303_SEE_OTHER)


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
