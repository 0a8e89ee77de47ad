"""`ApiRoute`, the route class of every API router. Around its route (as ASGI, so that the
handler's session is closed and its transaction committed before anything is stored about
the answer) it identifies the caller by its API key (web.api.caller), acts for the key's
organisation from then on (db.scope, as web.auth does for staff), refuses a read key
anything but GET, counts the request against the key's rate limit, and answers a repeated
`Idempotency-Key` from what it stored (web.api.idempotent). Every answer carries the rate
limit headers; the handler's errors are problem details (web.api.problems, the API app's
exception handlers).

A new resource: `router = api_router(tags=[...])` in a module of web/api, its handlers
taking `CallerDep` and a session from web.deps, and the module listed in web/api/app.py
(docs/api.md, "Adding a resource")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payrequest.api_keys import service as api_keys
from payrequest.db.scope import enter
from payrequest.ratelimit import service as ratelimit
from payrequest.ratelimit.service import Limit, Quota
from payrequest.runtime import Runtime
from payrequest.web.api import idempotent
from payrequest.web.api.caller import STATE, Caller, identify
from payrequest.web.api.problems import problem

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WINDOW = timedelta(minutes=1)


def rate_limit_headers(quota: Quota) -> dict[str, str]:
    """docs/api.md, "Rate limits"."""
    return {
        "RateLimit-Limit": str(quota.limit),
        "RateLimit-Remaining": str(quota.remaining),
        "RateLimit-Reset": str(quota.reset_seconds),
    }


async def _count(runtime: Runtime, caller: Caller) -> Quota:
    """One hit against the key's limit (and its use noted when that is news), in a short
    transaction of the caller's organisation."""
    limit = Limit(runtime.settings.api.requests_per_minute, WINDOW)
    async with runtime.sessions() as session, session.begin():
        quota = await ratelimit.take_quota(session, key=f"api:key:{caller.key_id}", limit=limit)
        if caller.note_use:
            await api_keys.note_use(session, key_id=caller.key_id)
    return quota


def guard(route: ASGIApp) -> ASGIApp:
    """`route` behind the API's checks (see the module)."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        runtime: Runtime = request.app.state.runtime
        caller = await identify(request, runtime)
        if not isinstance(caller, Caller):
            await caller(scope, receive, send)
            return
        enter(caller.organisation_id)
        setattr(request.state, STATE, caller)
        if request.method not in SAFE_METHODS and caller.scope != "write":
            refusal = problem(
                403,
                "api_key_read_only",
                "This API key may only read (GET); use a key with write access.",
            )
            await refusal(scope, receive, send)
            return
        quota = await _count(runtime, caller)
        headers = rate_limit_headers(quota)
        if not quota.allowed:
            too_many = problem(
                429,
                "rate_limited",
                f"More than {quota.limit} requests a minute with this key; "
                f"try again in {quota.reset_seconds} s.",
                headers={**headers, "Retry-After": str(quota.reset_seconds)},
            )
            await too_many(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(headers)
            await send(message)

        if request.method in SAFE_METHODS:
            await route(scope, receive, with_headers)
        else:
            await idempotent.run(request, runtime, caller, route, with_headers)

    return guarded


class ApiRoute(APIRoute):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await guard(super().handle)(scope, receive, send)


def api_router(**options: Any) -> APIRouter:
    """A router of the API: its routes are `ApiRoute`s."""
    return APIRouter(route_class=ApiRoute, **options)
