"""Errors as people see them: a page in the reader's language for a browser, JSON for a client
that asked for JSON; nothing of the cause leaks.

- JSON for `/api/...` and `/webhooks/...`, and for any request whose Accept header asks for
  JSON and not HTML; a page otherwise. The emulator (`/sandbox/...`) answers its own errors.
- The page speaks the reader's language: a signed-in staff member's; on customer pages
  (`/portal...`, `/receipts/...`) the portal's (chosen, or the customer's); else the
  installation's default.
- `HTTPException` (a handler's 404, the router's 404 and 405, 403, 429...) keeps its status;
  redirects (the 303 to the sign-in page) pass as they are. A `PayrequestError` no handler
  caught shows its message with its status. A path or query parameter that does not parse
  (`/invoices?page=abc`) is a 422 page. A body over its route's limit is a
  413 page (web/body_limits.py refuses it before it is read).
  Anything else is a 500 page, and the traceback goes to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from payrequest.errors import N_, PayrequestError
from payrequest.kit import urls
from payrequest.web import i18n, input_guard
from payrequest.web.auth import current_user
from payrequest.web.portal.session import current_customer, portal_language
from payrequest.web.render import render

log = logging.getLogger(__name__)

JSON_PATHS = ("/api/", "/webhooks/", urls.SANDBOX + "/")
CUSTOMER_PATHS = ("/portal", "/receipts/")

# status -> (title, what to say); a status not listed is said like 400 (4xx) or 500 (5xx)
MESSAGES: dict[int, tuple[str, str]] = {
    400: (
        N_("Something was wrong with the request"),
        N_("What was sent could not be read. Go back and try again."),
    ),
    403: (
        N_("Not allowed"),
        N_("You may not do this. If the page was open for a long time, reload it and try again."),
    ),
    404: (
        N_("Page not found"),
        N_(
            "We could not find what you were looking for. It may have been removed, or the "
            "address may be wrong."
        ),
    ),
    405: (
        N_("Not possible here"),
        N_("This address cannot be used like that. Use the buttons and links on the pages."),
    ),
    409: (N_("Not possible right now"), N_("This clashes with something that changed meanwhile.")),
    410: (N_("No longer available"), N_("This link has expired or was already used.")),
    413: (
        N_("Too much at once"),
        N_("What you sent is too large. Shorten the text or send less at a time."),
    ),
    422: (
        N_("Something did not look right"),
        N_("Part of the address or the form could not be understood. Check it and try again."),
    ),
    429: (N_("Too many tries"), N_("Please wait a little and try again.")),
    500: (
        N_("Something went wrong on our side"),
        N_("The error has been logged. Please try again in a moment."),
    ),
}


def wants_json(request: Request) -> bool:
    if request.url.path.startswith(JSON_PATHS):
        return True
    accept = request.headers.get("accept", "").lower()
    return "json" in accept and "html" not in accept


async def _reader_language(request: Request) -> tuple[str, bool]:
    """(language, is a customer page). Signed-in people are looked up in the database; if
    that fails (it may be what broke), the default language."""
    settings = request.app.state.settings
    runtime = request.app.state.runtime
    customer_page = request.url.path.startswith(CUSTOMER_PATHS)
    try:
        if customer_page:
            customer = getattr(request.state, "customer", None)
            customer = customer or await current_customer(request, runtime)
            if customer is not None:
                request.state.customer = customer
            return portal_language(request, customer), True
        user = getattr(request.state, "user", None) or await current_user(request, runtime)
        if user is not None:
            request.state.user = user
            return str(user.locale), False
    except Exception:  # no session, no database: still answer
        log.debug("error page: could not tell who is reading", exc_info=True)
    return str(settings.default_locale), customer_page


async def error_page(
    request: Request,
    status_code: int,
    *,
    message: str | PayrequestError | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The error page for `status_code` in the reader's language; `message`: what exactly
    went wrong, if a person should know (a message id, a translated text or our error)."""
    language, customer_page = await _reader_language(request)
    i18n.set_language(language)
    default = 500 if status_code >= 500 else 400
    title, text = MESSAGES.get(status_code, MESSAGES[default])
    if isinstance(message, PayrequestError):
        detail = i18n.error_text(message)
    else:
        detail = i18n.translate(message) if message else ""
    response = render(
        request,
        "portal/error.html" if customer_page else "error.html",
        status_code=status_code,
        status=status_code,
        title=i18n.gettext(title),
        text=i18n.gettext(text),
        detail=detail,
    )
    response.headers.update(headers or {})
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.headers and any(name.lower() == "location" for name in exc.headers):
        exc.headers = {
            name: _ascii_url(value) if name.lower() == "location" else value
            for name, value in exc.headers.items()
        }
    if exc.status_code < 400 or wants_json(request):
        return await http_exception_handler(request, exc)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != _phrase(exc) else None
    return await error_page(request, exc.status_code, message=detail, headers=exc.headers)


def _ascii_url(value: str) -> str:
    """A header value as HTTP can carry it: a redirect back to `/customers/Ā` names the path
    percent-encoded (a header is Latin-1; the character itself would fail the answer)."""
    return quote(value, safe="/:?#[]@!$&'()*+,;=%~")


def _phrase(exc: HTTPException) -> str:
    """Starlette's default detail: the status's reason phrase."""
    return str(HTTPException(exc.status_code).detail)


async def _payrequest_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PayrequestError)
    if wants_json(request):
        body: dict[str, str] = {"error": exc.message, "code": exc.code}
        if exc.field:
            body["field"] = exc.field
        return JSONResponse(body, status_code=exc.status_code)
    return await error_page(request, exc.status_code, message=exc)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if wants_json(request):
        return await request_validation_exception_handler(request, exc)
    return await error_page(request, 422)


async def _server_error(request: Request, exc: Exception) -> Response:
    """Starlette's outermost middleware calls this, sends the answer, then re-raises the
    exception, so the server logs its traceback."""
    if wants_json(request):
        return JSONResponse({"detail": "Internal Server Error"}, status_code=500)
    try:
        return await error_page(request, 500)
    except Exception:  # the page itself cannot be drawn: plain words, still no traceback
        log.exception("the error page failed")
        return HTMLResponse("<h1>500</h1>", status_code=500)


def install(app: FastAPI) -> None:
    handlers: dict[Any, Any] = {
        HTTPException: _http_error,
        PayrequestError: _payrequest_error,
        RequestValidationError: _invalid_request,
        Exception: _server_error,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)
    input_guard.install(app)
