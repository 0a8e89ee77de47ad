"""The middleware that makes every HTTP request observable.

- A request id: the caller's `X-Request-ID` when it is a sane token, else a new one; echoed in
  the response's `X-Request-ID` and carried by every log line written while the request runs,
  with the matched route template (observability.context).
- Metrics (observability.metrics): requests by method, route template and status, their
  duration (not for SSE streams, which last as long as the page is open), rate-limit refusals
  (429) by route, and provider webhooks by outcome.

Route templates (`/customers/{customer_id}`), never raw paths, so ids, tokens and phone numbers
never become label values; a path no route matched is counted as `unmatched`.
"""

from __future__ import annotations

import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payrequest.kit import urls
from payrequest.observability import metrics
from payrequest.observability.context import bound, route_from

HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
WEBHOOKS_UNDER = urls.WEBHOOK.split("{", 1)[0]  # "/webhooks/"


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = bytes(value).decode("latin-1")
            if _SANE_ID.match(text):
                return text
            break
    return uuid.uuid4().hex


def route_of(scope: Scope) -> str | None:
    """The template of the route that matched, under the mount it is in (`/sandbox/vipps/...`),
    or None while nothing has matched."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    mounted = scope.get("root_path", "") or ""
    app_root = scope.get("app_root_path", "") or ""
    prefix = mounted.removeprefix(app_root)
    if isinstance(template, str):
        return prefix + template if prefix and not template.startswith(prefix) else template
    return prefix or None


class ObserveRequests:
    """Pure ASGI (not BaseHTTPMiddleware), so streams and context variables pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        started = time.perf_counter()
        answer = {"status": 500, "stream": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                headers = MutableHeaders(scope=message)
                headers[HEADER] = request_id
                answer["stream"] = headers.get("content-type", "").startswith("text/event-stream")
            await send(message)

        with bound(request_id=request_id), route_from(lambda: route_of(scope)):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                _count(scope, int(answer["status"]), bool(answer["stream"]), started)


def _count(scope: Scope, status: int, stream: bool, started: float) -> None:
    method = str(scope.get("method", "GET"))
    method = method if method in _METHODS else "OTHER"
    route = route_of(scope) or UNMATCHED
    metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
    if not stream:
        metrics.HTTP_DURATION.labels(method, route).observe(time.perf_counter() - started)
    if status == 429:
        metrics.RATE_LIMIT_REFUSALS.labels(route).inc()
    if method == "POST" and route.startswith(WEBHOOKS_UNDER):
        # The provider the path names; a name we do not have (404) is not a label of its own,
        # or anyone could add labels without end.
        named = str((scope.get("path_params") or {}).get("provider", ""))
        provider = "unknown" if status == 404 or not named else named
        outcome = "received" if status < 300 else "rejected" if status < 500 else "error"
        metrics.WEBHOOKS.labels(provider, outcome).inc()
