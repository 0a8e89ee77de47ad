"""A business signs itself up (organisations.signup): the form, the "check your email" page,
and the link that proves the address and signs the new owner in.

The form is in the visitor's language (`?lang=` switches it, the browser's session keeps
it). Every answer to a well-formed sign-up is the same, whether or not the address has an
account; what differs is only the email sent after the answer: a verification link, or a
warning to an account's owner that someone tried. Sign-ups are throttled per client address
and per email (installation-wide buckets: no organisation is known yet).
`PAYREQUEST_SIGNUP=false` turns the form off (404).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from payrequest import connecting
from payrequest.config import Settings
from payrequest.db.scope import ALL, scoped_to
from payrequest.errors import ValidationFailed
from payrequest.kit.ids import random_token
from payrequest.notify.email import outbox
from payrequest.notify.email.smtp import EmailSender
from payrequest.organisations.models import Organisation
from payrequest.ratelimit import service as ratelimit
from payrequest.ratelimit.service import Limit
from payrequest.runtime import Runtime
from payrequest.tenancy import signup
from payrequest.users import mail, tokens
from payrequest.users.models import User
from payrequest.users.passwords import MIN_LENGTH
from payrequest.web import i18n
from payrequest.web.auth import SESSION_TOKEN, check_csrf, client_address
from payrequest.web.deps import RuntimeDep
from payrequest.web.flash import flash
from payrequest.web.render import render

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

ADDRESS_LIMITS = (Limit(5, timedelta(hours=1)), Limit(20, timedelta(days=1)))
EMAIL_LIMITS = (Limit(3, timedelta(hours=1)),)
LANGUAGE = "visitor_language"  # the browser session's key: the language the visitor chose
SENT_TO = "signup_sent_to"  # the browser session's key: the address the last sign-up gave
MARKET_NAMES = {"NO": "Norway", "DK": "Denmark"}  # msgids in the catalog


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _sender(request: Request, runtime: Runtime) -> EmailSender | None:
    return outbox.sender_for(runtime.email, _settings(request))


def _open(request: Request) -> None:
    """404 when sign-up is switched off (`PAYREQUEST_SIGNUP=false`)."""
    if not _settings(request).signup:
        raise HTTPException(status.HTTP_404_NOT_FOUND)


def visitor_language(request: Request) -> str:
    """`?lang=` when it names a language (kept for the next pages), else the one kept, else
    the installation's default; set for this request."""
    chosen = request.query_params.get("lang")
    if chosen in i18n.LANGUAGES:
        request.session[LANGUAGE] = chosen
    kept = request.session.get(LANGUAGE)
    language = kept if isinstance(kept, str) and kept in i18n.LANGUAGES else None
    language = language or str(_settings(request).default_locale)
    i18n.set_language(language)
    return i18n.current_language()


@router.get("/signup", response_class=HTMLResponse)
async def form(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    _open(request)
    visitor_language(request)
    return _form(request, runtime, values={}, errors={})


@router.post("/signup", response_class=HTMLResponse)
async def submit(
    request: Request,
    runtime: RuntimeDep,
    background: BackgroundTasks,
    business_name: Annotated[str, Form()] = "",
    market: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    _open(request)
    check_csrf(request, csrf)
    language = visitor_language(request)
    values = {"business_name": business_name, "market": market, "name": name, "email": email}
    sender = _sender(request, runtime)
    if sender is None:
        return _form(request, runtime, values=values, errors={})
    data = signup.SignUp(
        business_name=business_name,
        market=market,
        name=name,
        email=email,
        password=password,
        locale=language,
    )
    problems = signup.problems(data)
    if problems:
        return _invalid(request, runtime, values, problems)
    address = client_address(request)
    # On the emulator each new business gets a test sales unit of its own (app.py).
    unit_for = getattr(request.app.state, "emulator_unit_for", None)
    on_created = signup.connecting_to(unit_for, runtime.box) if unit_for is not None else None
    digest = hashlib.sha256(email.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]
    try:
        async with runtime.sessions(info=scoped_to(ALL)) as session, session.begin():
            verdict = await ratelimit.take_all(
                session,
                [
                    (f"signup:ip:{address}", ADDRESS_LIMITS),
                    (f"signup:email:{digest}", EMAIL_LIMITS),
                ],
            )
            done = None
            if verdict.allowed:
                done = await signup.sign_up(
                    session,
                    data,
                    key=runtime.urls.signing_key or "",
                    address=address,
                    on_created=on_created,
                )
    except ValidationFailed as exc:
        found = exc.problems if isinstance(exc, signup.SignUpInvalid) else [exc]
        return _invalid(request, runtime, values, found)
    except signup.SignUpRaced:
        # the same address signed up at the same moment: the other one won; answer as always
        log.info("a sign-up lost a race for its address or short name")
        done, allowed = None, True
    else:
        allowed = verdict.allowed
    if not allowed:
        message = i18n.gettext("Too many sign-ups from here. Try again later.")
        return _form(
            request,
            runtime,
            values=values,
            errors={},
            error=message,
            code=status.HTTP_429_TOO_MANY_REQUESTS,
        )
    if done is not None:
        background.add_task(_email, runtime, sender, done)
        if done.created and done.organisation is not None and on_created is not None:
            background.add_task(_check_connection, runtime, done.organisation.id)
    request.session[SENT_TO] = email.strip()[:254]
    return RedirectResponse("/signup/sent", status_code=status.HTTP_303_SEE_OTHER)


async def _check_connection(runtime: Runtime, organisation_id: int) -> None:
    """Check the new business's test connection and register its webhook (after the
    answer: it makes a few calls to the emulator)."""
    try:
        await connecting.check_and_register(
            runtime.sessions,
            runtime.directory,
            urls=runtime.urls,
            box=runtime.box,
            organisation_id=organisation_id,
            provider=runtime.providers.default_name,
        )
        runtime.webhook_secrets.forget()
    except Exception:
        log.exception("organisation %s: the test connection could not be checked", organisation_id)


@router.get("/signup/sent", response_class=HTMLResponse)
async def sent(request: Request) -> HTMLResponse:
    """Check your email (the same page for every sign-up)."""
    visitor_language(request)
    sent_to = request.session.get(SENT_TO)
    return render(
        request,
        "signup/sent.html",
        email=sent_to if isinstance(sent_to, str) else "",
        outbox=outbox.in_use(_settings(request)),
        days=tokens.LIFETIMES[tokens.VERIFY].days,
    )


@router.get(mail.VERIFY_PATH, response_class=HTMLResponse)
async def verify(request: Request, runtime: RuntimeDep, token: str = "") -> Response:
    """The emailed link: the address is proved, the new owner is signed in and starts on
    the customers page. (It works even with sign-up switched off since: the account exists.)"""
    try:
        async with runtime.sessions(info=scoped_to(ALL)) as session, session.begin():
            signed = await signup.verify_email(
                session,
                key=runtime.urls.signing_key or "",
                token=token[:2000],
                address=client_address(request),
            )
    except signup.AlreadyVerified:
        visitor_language(request)
        flash(request, i18n.gettext("Your email address is already confirmed. Sign in."))
        return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    except ValidationFailed as exc:
        visitor_language(request)
        return render(
            request,
            "signup/dead_link.html",
            status_code=status.HTTP_400_BAD_REQUEST,
            error=i18n.error_text(exc),
            signup_open=_settings(request).signup,
        )
    request.session.clear()
    request.session[SESSION_TOKEN] = signed.token
    request.session[LANGUAGE] = signed.user.locale
    i18n.set_language(signed.user.locale)
    flash(request, i18n.gettext("Welcome to payrequest! Your email address is confirmed."))
    return RedirectResponse("/customers", status_code=status.HTTP_303_SEE_OTHER)


async def _email(runtime: Runtime, sender: EmailSender, done: signup.SignedUp) -> None:
    """After the answer: the verification link, or the warning to an account's owner. A
    failure is logged (the visitor's page said the same either way)."""
    user: User = done.user
    try:
        if done.token is not None:
            organisation: Organisation | None = done.organisation
            await mail.send_verification(
                sender,
                user=user,
                organisation=organisation.name if organisation else "",
                url=mail.verify_url(runtime.urls.base, done.token),
            )
        else:
            await mail.send_signup_attempt(
                sender,
                user=user,
                sign_in_url=f"{runtime.urls.base.rstrip('/')}/login",
                attempt=random_token(16),
            )
    except Exception:
        log.exception("could not email user %s about a sign-up", user.id)


def _invalid(
    request: Request,
    runtime: Runtime,
    values: dict[str, str],
    problems: list[ValidationFailed],
) -> HTMLResponse:
    errors: dict[str, str] = {}
    for problem in problems:
        errors.setdefault(problem.field or "", i18n.error_text(problem))
    return _form(
        request,
        runtime,
        values=values,
        errors=errors,
        code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


def _form(
    request: Request,
    runtime: Runtime,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    error: str | None = None,
    code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    return render(
        request,
        "signup/form.html",
        status_code=code,
        values=values,
        errors=errors,
        error=error,
        markets=MARKET_NAMES,
        min_length=MIN_LENGTH,
        email_off=_sender(request, runtime) is None,
    )
