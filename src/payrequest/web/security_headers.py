"""Security headers on every response (ASGI middleware `SecurityHeaders`).

- `Content-Security-Policy`: scripts, styles, images and connections from our own origin only
  (no inline scripts, event handler attributes or inline styles: they live in web/static and the
  emulator's static folder), QR codes as `data:` images too, no plugins, no `<base>` elsewhere,
  and never inside a frame (`frame-ancestors 'none'`, and `X-Frame-Options: DENY` for older
  browsers). The API docs (`/api/v1/docs`, the emulator's `/sandbox-docs`) load Swagger UI from its
  CDN with an inline script, so they get a policy that allows exactly that.
- `X-Content-Type-Options: nosniff`; `Referrer-Policy: same-origin`: a sign-in link or receipt
  link carries its token in the URL, so no other site may see our URLs as referrer.
- `Strict-Transport-Security` when the public URL is https (test and production).
- `Cache-Control: no-store` on everything but the static files, unless the route chose its
  own: staff pages, portal pages and receipt links are someone's own data, and a shared or
  back-button cache must not keep them.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
SWAGGER_CDN = "https://cdn.jsdelivr.net"
DOCS_CSP = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {SWAGGER_CDN}; "
    f"style-src 'self' {SWAGGER_CDN}; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/api/v1/docs",)
DOCS_SUFFIXES = ("/sandbox-docs",)
HSTS = "max-age=31536000"
STATIC_PREFIXES = ("/static/",)
STATIC_SEGMENT = "/static/"  # also the emulator's own static files, wherever it is mounted


def policy_for(path: str) -> str:
    """The Content-Security-Policy of a response to `path`."""
    if path.startswith(DOCS_PATHS) or path.endswith(DOCS_SUFFIXES):
        return DOCS_CSP
    return CSP


def is_static(path: str) -> bool:
    return path.startswith(STATIC_PREFIXES) or STATIC_SEGMENT in path


class SecurityHeaders:
    """Adds the headers above to every HTTP response; `https`: the public URL is https."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", policy_for(path))
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                if self.https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
                if not is_static(path):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)
