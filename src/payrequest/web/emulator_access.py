"""Who may use the mounted emulator's phone: a signed-in operator of the installation, or
whoever holds the emulator key that `payrequest demo` (and `payrequest serve` in sandbox mode)
print at start.

The phone pages show every customer's SMS (portal sign-in links among them) of every
organisation, and approve payments as the customer, so neither an anonymous visitor nor the
staff of one business may reach them: only the installation's operator sees every business.
The emulator's Vipps API part is not guarded here: it checks its client credentials itself.

The key is derived from the secret key, so every web process of an installation agrees on it
and it stays the same across restarts. Opening any guarded page with `?key=<key>` stores the key
in a cookie for the emulator's path and redirects to the same page without it (the key leaves
the address bar and the history). Without the key or a staff session, a page sends the visitor
to the staff sign-in, which brings them back; anything else is refused with 403.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from payrequest.kit import urls
from payrequest.runtime import Runtime
from payrequest.web.auth import current_user

KEY_PARAMETER = "key"
KEY_COOKIE = "payrequest_emulator_key"
KEY_PURPOSE = b"payrequest emulator key"
REFUSED = (
    "The emulator's phone needs the installation operator's sign-in or the emulator key: open "
    "the link that 'payrequest demo' printed at start (.../sandbox/vipps/phone?key=...)."
)
# What the emulator calls before a guarded route (sandbox.access.AccessGuard, the same shape).
AccessGuard = Callable[[Request], Awaitable[Response | None]]


def emulator_key(secret_key: str) -> str:
    """The emulator key of an installation with this secret key (32 hex digits)."""
    return hmac.new(secret_key.encode(), KEY_PURPOSE, hashlib.sha256).hexdigest()[:32]


def phone_url(base: str, secret_key: str) -> str:
    """The phone emulator's address with the key, as printed at start."""
    return f"{urls.PublicUrls(base).sandbox()}/phone?{KEY_PARAMETER}={emulator_key(secret_key)}"


def _holds(given: str | None, key: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), key.encode())


def guard(runtime: Runtime, secret_key: str, *, https: bool) -> AccessGuard:
    """The emulator's access check for this installation: None lets the request through, a
    response answers it instead."""
    key = emulator_key(secret_key)

    async def check(request: Request) -> Response | None:
        if request.method != "GET" and request.headers.get("sec-fetch-site") == "cross-site":
            return PlainTextResponse("Cross-site request refused", status_code=403)
        if request.method == "GET" and _holds(request.query_params.get(KEY_PARAMETER), key):
            return _remember(request, key, https=https)
        if _holds(request.cookies.get(KEY_COOKIE), key):
            return None
        user = await current_user(request, runtime)
        if user is not None and user.is_operator:
            return None
        if (
            user is None
            and request.method == "GET"
            and "text/html" in request.headers.get("accept", "")
        ):
            target = urlencode({"next": request.url.path})
            return RedirectResponse(f"/login?{target}", status_code=303)
        return PlainTextResponse(REFUSED, status_code=403)

    return check


def _remember(request: Request, key: str, *, https: bool) -> Response:
    """The key goes into a cookie; the same page again, without the key in its address."""
    rest = [(name, value) for name, value in request.query_params.multi_items()]
    query = urlencode([(name, value) for name, value in rest if name != KEY_PARAMETER])
    response = RedirectResponse(request.url.path + (f"?{query}" if query else ""), 303)
    response.set_cookie(
        KEY_COOKIE,
        key,
        path=str(request.scope.get("root_path", "")) or urls.SANDBOX,
        httponly=True,
        samesite="lax",
        secure=https,
        max_age=30 * 24 * 3600,
    )
    return response
