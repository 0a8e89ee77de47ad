"""Sign in (throttled), sign out, language."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from payrequest.ratelimit import service as ratelimit
from payrequest.ratelimit.service import Limit
from payrequest.users import service as users
from payrequest.users.models import LOCALES, User
from payrequest.web import i18n
from payrequest.web.auth import SESSION_USER, Member, StaffUser, check_csrf
from payrequest.web.deps import SessionDep
from payrequest.web.render import render

router = APIRouter()
# Failed sign-ins allowed before a pause: per email, and per address (many emails, one attacker).
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
    return render(request, "login.html", error=None, email="", next=_safe_next(next))


@router.post("/login")
async def login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    address = request.client.host if request.client else "unknown"
    keys = (f"login:email:{email.strip().lower()}", f"login:ip:{address}")
    for key, limits in zip(keys, (EMAIL_LIMITS, IP_LIMITS), strict=True):
        verdict = await ratelimit.check(session, key=key, limits=limits)
        if not verdict.allowed:
            minutes = max(1, int((verdict.retry_after or timedelta()).total_seconds() // 60))
            message = i18n.gettext(
                "Too many failed sign-ins. Try again in {minutes} minutes."
            ).format(minutes=minutes)
            return render(
                request,
                "login.html",
                status_code=status.HTTP_429_TOO_MANY_REQUESTS,
                error=message,
                email=email,
                next=_safe_next(next),
            )
    user = await users.authenticate(session, email=email, password=password)
    if user is None:
        for key in keys:
            await ratelimit.hit(session, key=key)
        return render(
            request,
            "login.html",
            status_code=status.HTTP_401_UNAUTHORIZED,
            error=i18n.gettext("Wrong email or password."),
            email=email,
            next=_safe_next(next),
        )
    await ratelimit.forget(session, key=keys[0])
    request.session.clear()
    request.session[SESSION_USER] = user.id
    return RedirectResponse(_safe_next(next), status_code=status.HTTP_303_SEE_OTHER)


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str, Form()] = "") -> RedirectResponse:
    check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/account/language")
async def choose_language(
    request: Request,
    user: Member,
    session: SessionDep,
    language: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Any role may choose the language of their own pages."""
    if language in LOCALES:
        stored = await session.get(User, user.id)
        if stored is not None:
            stored.locale = language
    back = request.headers.get("referer") or "/customers"
    return RedirectResponse(_safe_next(_path_of(back)), status_code=status.HTTP_303_SEE_OTHER)


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
