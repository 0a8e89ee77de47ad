"""Request bodies are capped per route before they are read (ASGI middleware `BodyLimits`).

- A declared `Content-Length` over the route's limit is answered 413 at once: the route never
  runs and not a byte of the body is read. The answer closes the connection.
- A body without a length (chunked) is counted as it streams in; the read that takes it past
  the limit raises a 413 `HTTPException`, which `web.errors` answers like any other.

Webhooks (`/webhooks/...`) get `WEBHOOK_LIMIT`: a provider's event is a few KB and anyone may
post there before the signature is checked. Everything else, forms included, gets
`DEFAULT_LIMIT` (the largest form, a flow of 10 actions in 3 languages, is far less), but for
the import's upload (`/imports`), which takes a CSV file up to `IMPORT_LIMIT` (some 100 000
invoice lines; starlette spools the file to disk past 1 MiB, and imports.uploads copies it on
in chunks: never all of it in memory). The 413 is JSON where `web.errors` answers JSON
(webhooks, the emulator, clients asking for JSON) and the error page in the reader's language
elsewhere.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payrequest.web import errors

KIB = 1024
WEBHOOK_LIMIT = 256 * KIB
DEFAULT_LIMIT = 1024 * KIB
IMPORT_LIMIT = 20 * 1024 * KIB
# (path prefix, limit in bytes); the first prefix that matches decides, else DEFAULT_LIMIT.
ROUTE_LIMITS: tuple[tuple[str, int], ...] = (
    ("/webhooks/", WEBHOOK_LIMIT),
    ("/imports", IMPORT_LIMIT),
)
TOO_LARGE = 413


def limit_for(path: str) -> int:
    """The largest body, in bytes, a request to `path` may send."""
    for prefix, limit in ROUTE_LIMITS:
        if path.startswith(prefix):
            return limit
    return DEFAULT_LIMIT


class BodyLimits:
    """Refuses a request body over its route's limit before reading it (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(str(scope.get("path", "")))
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            response = await refusal(Request(scope))
            await response(scope, receive, send)
            return
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(TOO_LARGE)
            return message

        await self.app(scope, capped, send)


async def refusal(request: Request) -> Response:
    """The 413 for a body refused before the route ran."""
    response: Response
    if errors.wants_json(request):
        response = JSONResponse({"detail": HTTPException(TOO_LARGE).detail}, TOO_LARGE)
    else:
        response = await errors.error_page(request, TOO_LARGE)
    response.headers["Connection"] = "close"  # the rest of the body is not wanted
    return response


def declared_length(scope: Scope) -> int | None:
    """The request's `Content-Length`, if it has a readable one."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
