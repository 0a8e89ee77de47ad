"""Passwords: "forgot your password?" (a link by email), setting one from a reset or
invitation link, and changing one's own while signed in. Each calls one users.commands
command; a password set ends the account's other sessions there."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from payrequest.errors import ValidationFailed
from payrequest.ratelimit import service as ratelimit
from payrequest.ratelimit.service import Limit
from payrequest.runtime import Runtime
from payrequest.users import commands, mail, tokens
from payrequest.users.models import User
from payrequest.web import i18n
from payrequest.web.auth import SignedInMember, StaffUser, check_csrf, client_address
from payrequest.web.deps import RuntimeDep
from payrequest.web.flash import flash
from payrequest.web.render import render

router = APIRouter()
log = logging.getLogger(__name__)
FORGOT_EMAIL_LIMITS = (Limit(3, timedelta(hours=1)),)
FORGOT_IP_LIMITS = (Limit(10, timedelta(hours=1)),)
SET_PATH = mail.LINK_PATH


def signing_key(runtime: Runtime) -> str:
    return runtime.urls.signing_key or ""


async def send_link(runtime: Runtime, user: User, token: str, purpose: str) -> bool:
    """Email the link (in the account's language); False when email is off or refused."""
    try:
        return await mail.send_password_link(
            runtime.email,
            user=user,
            url=mail.link_url(runtime.urls.base, token),
            purpose=purpose,
            idempotency_key=mail.idempotency_key(token),
        )
    except Exception:
        log.exception("could not email a password link to user %s", user.id)
        return False


def _anonymous_language(request: Request) -> None:
    i18n.set_language(str(request.app.state.settings.default_locale))


@router.get("/password/forgot", response_class=HTMLResponse)
async def forgot_form(request: Request) -> HTMLResponse:
    _anonymous_language(request)
    return render(request, "password/forgot.html", sent=False, error=None)


@router.post("/password/forgot", response_class=HTMLResponse)
async def forgot(
    request: Request,
    runtime: RuntimeDep,
    background: BackgroundTasks,
    email: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """The same answer whether or not the email has an account; the email (if any) is sent
    after the answer, so its time tells nothing either."""
    check_csrf(request, csrf)
    _anonymous_language(request)
    address = client_address(request)
    digest = hashlib.sha256(email.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]
    actor = commands.Actor(user_id=None, address=address)
    async with runtime.sessions() as session, session.begin():
        by_email = (
            await ratelimit.take_all(
                session,
                [
                    (f"password-forgot:ip:{address}", FORGOT_IP_LIMITS),
                    (f"password-forgot:email:{digest}", FORGOT_EMAIL_LIMITS),
                ],
            )
        ).allowed
        found = None
        if by_email:
            found = await commands.reset_link(session, actor, key=signing_key(runtime), email=email)
    if not by_email:
        message = i18n.gettext("Too many links asked for. Try again later.")
        return render(request, "password/forgot.html", status_code=429, sent=False, error=message)
    if found is not None:
        user, token = found
        background.add_task(send_link, runtime, user, token, tokens.RESET)
    return render(request, "password/forgot.html", sent=True, error=None)


@router.get(SET_PATH, response_class=HTMLResponse)
async def set_form(request: Request, runtime: RuntimeDep, token: str = "") -> HTMLResponse:
    """Shows the form; opening the link uses nothing up (link scanners open links too)."""
    async with runtime.read_sessions() as session:
        try:
            user = await commands.check_link(session, key=signing_key(runtime), token=token)
        except ValidationFailed as exc:
            _anonymous_language(request)
            return _set_page(request, token, i18n.error_text(exc), dead=True)
    i18n.set_language(user.locale)
    return _set_page(request, token, None, email=user.email)


@router.post(SET_PATH, response_class=HTMLResponse)
async def set_password(
    request: Request,
    runtime: RuntimeDep,
    token: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    repeated: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    key = signing_key(runtime)
    try:
        async with runtime.sessions() as session, session.begin():
            user = await commands.set_password_by_link(
                session,
                key=key,
                token=token,
                new=password,
                repeated=repeated,
                address=client_address(request),
            )
    except ValidationFailed as exc:
        async with runtime.read_sessions() as session:
            try:
                found = await commands.check_link(session, key=key, token=token)
            except ValidationFailed:
                found = None
        if found is not None:
            i18n.set_language(found.locale)
        else:
            _anonymous_language(request)
        return _set_page(
            request,
            token,
            i18n.error_text(exc),
            dead=found is None,
            email=found.email if found else "",
            code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    request.session.clear()
    i18n.set_language(user.locale)
    flash(request, i18n.gettext("Your password is set. Sign in with it."))
    return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)


def _set_page(
    request: Request,
    token: str,
    error: str | None,
    *,
    dead: bool = False,
    email: str = "",
    code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "password/set.html",
        status_code=code,
        token=token,
        error=error,
        dead=dead,
        email=email,
    )


@router.get("/account/password", response_class=HTMLResponse)
async def change_form(request: Request, user: StaffUser) -> HTMLResponse:
    return render(request, "password/change.html", error=None)


@router.post("/account/password", response_class=HTMLResponse)
async def change(
    request: Request,
    runtime: RuntimeDep,
    user: SignedInMember,
    current: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    repeated: Annotated[str, Form()] = "",
) -> Response:
    """Any role changes their own password; their other sessions end, this one stays."""
    actor = commands.Actor(
        user.id, client_address(request), getattr(request.state, "sign_in_session_id", None)
    )
    try:
        async with runtime.sessions() as session, session.begin():
            await commands.change_password(
                session, actor, current=current, new=password, repeated=repeated
            )
    except ValidationFailed as exc:
        return render(
            request,
            "password/change.html",
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            error=i18n.error_text(exc),
        )
    flash(request, i18n.gettext("Your password is changed. You are signed out everywhere else."))
    return RedirectResponse("/account/password", status_code=status.HTTP_303_SEE_OTHER)
