"""/sandbox/outbox: the demo's emails (notify.email.outbox), for whoever may use the emulator.

Guarded exactly like the emulator's phone (web.emulator_access): a signed-in staff member,
or whoever holds the emulator key that `payrequest demo` prints (`?key=` once; a cookie for
this page keeps it). The page exists only in sandbox mode without an SMTP server: an
installation that sends real email has no outbox.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from payrequest.config import Settings, secret_key
from payrequest.notify.email import outbox
from payrequest.runtime import Runtime
from payrequest.web import i18n
from payrequest.web.auth import current_user
from payrequest.web.deps import RuntimeDep
from payrequest.web.emulator_access import KEY_COOKIE, KEY_PARAMETER, REFUSED, emulator_key
from payrequest.web.render import render

router = APIRouter(include_in_schema=False)
PATH = "/sandbox/outbox"
_URL = re.compile(r"https?://[^\s<>\"]+")


@dataclass(frozen=True, slots=True)
class Piece:
    """A part of an email's text: a link (`url`) or plain words."""

    text: str
    url: bool = False


def pieces(text: str) -> list[Piece]:
    """The text with its links marked, so the page can make them clickable (escaped)."""
    found: list[Piece] = []
    position = 0
    for match in _URL.finditer(text):
        if match.start() > position:
            found.append(Piece(text[position : match.start()]))
        found.append(Piece(match.group(0), url=True))
        position = match.end()
    if position < len(text):
        found.append(Piece(text[position:]))
    return found


async def guard(request: Request, runtime: Runtime, settings: Settings) -> Response | None:
    """web.emulator_access's check, with the key's cookie kept for this page's path."""
    key = emulator_key(secret_key(settings))

    def holds(given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(str(given).encode(), key.encode())

    if request.method == "GET" and holds(request.query_params.get(KEY_PARAMETER)):
        response = RedirectResponse(PATH, status_code=status.HTTP_303_SEE_OTHER)
        response.set_cookie(
            KEY_COOKIE,
            key,
            path=PATH,
            httponly=True,
            samesite="lax",
            secure=settings.public_url.startswith("https://"),
            max_age=30 * 24 * 3600,
        )
        return response
    if holds(request.cookies.get(KEY_COOKIE)):
        return None
    # Every organisation's emails are here: the installation's operator's page, not a business's.
    user = await current_user(request, runtime)
    if user is not None and user.is_operator:
        return None
    if user is None and "text/html" in request.headers.get("accept", ""):
        return RedirectResponse(f"/login?{urlencode({'next': PATH})}", status_code=303)
    return PlainTextResponse(REFUSED, status_code=status.HTTP_403_FORBIDDEN)


@router.get(PATH, response_class=HTMLResponse)
async def outbox_page(request: Request, runtime: RuntimeDep) -> Response:
    settings: Settings = request.app.state.settings
    if not outbox.in_use(settings):
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    refused = await guard(request, runtime, settings)
    if refused is not None:
        return refused
    user = getattr(request.state, "user", None) or await current_user(request, runtime)
    request.state.user = user
    i18n.set_language(user.locale if user is not None else str(settings.default_locale))
    messages = outbox.read(outbox.outbox_path(settings))
    return render(
        request,
        "sandbox/outbox.html",
        messages=[(message, pieces(message.text)) for message in messages],
    )
