"""Sign in (throttled), sign out (ending the session on the server), language."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from payrequest.db.scope import ALL, scoped_to
from payrequest.ratelimit import service as ratelimit
from payrequest.ratelimit.service import Limit
from payrequest.users import commands
from payrequest.users import service as users
from payrequest.users.models import LOCALES
from payrequest.web import i18n
from payrequest.web.auth import (
    SESSION_TOKEN,
    SignedInMember,
    StaffUser,
    check_csrf,
    client_address,
    current_user,
    session_token,
)
from payrequest.web.deps import RuntimeDep, SessionDep
from payrequest.web.render import render

router = APIRouter()
# Sign-in attempts allowed before a pause: per email from one address, and per address (many
# emails, one attacker).
EMAIL_LIMITS = (Limit(5, timedelta(minutes=15)),)
IP_LIMITS = (Limit(30, timedelta(minutes=15)),)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/customers"


@router.get("/", response_class=HTMLResponse)
async def home(user: StaffUser) -> RedirectResponse:
    return RedirectResponse("/customers", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "") -> HTMLResponse:
    return render(
        request,
        "login.html",
        error=None,
        email="",
        next=_safe_next(next),
        signup_open=_signup_open(request),
    )


def _signup_open(request: Request) -> bool:
    """Whether the sign-in page offers sign-up (PAYREQUEST_SIGNUP)."""
    return bool(request.app.state.settings.signup)


@router.post("/login")
async def login(
    request: Request,
    runtime: RuntimeDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Each attempt is counted before the password is looked at (so many at once cannot all
    be tried), per address and per email from that address: someone guessing from elsewhere
    never locks the owner of the email out. A success forgets the email's count."""
    check_csrf(request, csrf)
    address = client_address(request)
    by_email = login_key(email, address)
    async with runtime.sessions() as session, session.begin():
        verdict = await ratelimit.take_all(
            session, [(f"login:ip:{address}", IP_LIMITS), (by_email, EMAIL_LIMITS)]
        )
    if not verdict.allowed:
        minutes = max(1, -(-int((verdict.retry_after or timedelta()).total_seconds()) // 60))
        message = i18n.gettext("Too many failed sign-ins. Try again in {minutes} minutes.")
        return _login_page(
            request, message.format(minutes=minutes), email, next, status.HTTP_429_TOO_MANY_REQUESTS
        )
    # Who signs in (and so for which organisation) is not known before: the installation's work.
    async with runtime.sessions(info=scoped_to(ALL)) as session, session.begin():
        signed = await commands.sign_in(session, email=email, password=password, address=address)
        if signed is not None:
            await ratelimit.forget(session, key=by_email)
    if signed is None:
        message = i18n.gettext("Wrong email or password.")
        return _login_page(request, message, email, next, status.HTTP_401_UNAUTHORIZED)
    request.session.clear()
    request.session[SESSION_TOKEN] = signed.token
    return RedirectResponse(_safe_next(next), status_code=status.HTTP_303_SEE_OTHER)


def login_key(email: str, address: str) -> str:
    """The rate-limit key of one email tried from one address (the email hashed: any length)."""
    digest = hashlib.sha256(email.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]
    return f"login:email:{digest}:{address}"


def _login_page(request: Request, error: str, email: str, next: str, code: int) -> HTMLResponse:
    return render(
        request,
        "login.html",
        status_code=code,
        error=error,
        email=email[:254],
        next=_safe_next(next),
        signup_open=_signup_open(request),
    )


@router.post("/logout")
async def logout(
    request: Request, runtime: RuntimeDep, csrf: Annotated[str, Form()] = ""
) -> RedirectResponse:
    """Ends the sign-in session on the server: a copy of the cookie stops working too."""
    check_csrf(request, csrf)
    token = session_token(request)
    if token:
        user = await current_user(request, runtime)
        actor = commands.Actor(user.id if user else None, client_address(request))
        async with runtime.sessions() as session, session.begin():
            await commands.sign_out(session, token=token, actor=actor)
    request.session.clear()
    return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/account/organisation")
async def switch_organisation(
    request: Request,
    runtime: RuntimeDep,
    user: SignedInMember,
    organisation: Annotated[int, Form()] = 0,
) -> RedirectResponse:
    """Work in another organisation the person belongs to; the session remembers it."""
    actor = commands.Actor(user.id, client_address(request), _session_id(request))
    async with runtime.sessions(info=scoped_to(ALL)) as session, session.begin():
        await commands.switch_organisation(
            session, actor, session_id=actor.session_id or 0, organisation_id=organisation
        )
    return RedirectResponse("/customers", status_code=status.HTTP_303_SEE_OTHER)


def _session_id(request: Request) -> int | None:
    value = getattr(request.state, "sign_in_session_id", None)
    return value if isinstance(value, int) else None


@router.post("/account/language")
async def choose_language(
    request: Request,
    user: SignedInMember,
    session: SessionDep,
    language: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Any role may choose the language of their own pages."""
    if language in LOCALES:
        await users.set_locale(session, user_id=user.id, locale=language)
    back = request.headers.get("referer") or "/customers"
    return RedirectResponse(_safe_next(_path_of(back)), status_code=status.HTTP_303_SEE_OTHER)


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
