"""Who calls the API: the API key in `Authorization: Bearer <key>`, and the organisation it
belongs to (docs/api.md, "Authentication"). Nothing else opens the API: a session cookie is
never read here, and a key opens no page of the admin (web.auth reads only the cookie)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from payrequest.api_keys import service as api_keys
from payrequest.db.scope import ALL, scoped_to
from payrequest.organisations import service as organisations
from payrequest.runtime import Runtime
from payrequest.web.api.problems import problem

STATE = "api_caller"  # request.state: the Caller, once the key was checked
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="payrequest"'}
# Declares the scheme in the OpenAPI document; the key itself is read by `identify`.
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key made in Settings → API keys or with `payrequest api-keys create`.",
)


@dataclass(frozen=True, slots=True)
class Caller:
    key_id: int
    organisation_id: int
    scope: str  # read | write
    note_use: bool  # the key's last use is old enough to be noted again


def _presented(request: Request) -> str | None:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    return key.strip()


async def identify(request: Request, runtime: Runtime) -> Caller | JSONResponse:
    """The caller, or the problem that refuses the request (401, or 403 for a suspended
    organisation). Read acting for every organisation: the key says whose it is."""
    presented = _presented(request)
    if presented is None:
        return problem(
            401,
            "api_key_missing",
            "Send an API key as `Authorization: Bearer <key>`.",
            field="Authorization",
            headers=CHALLENGE,
        )
    async with runtime.read_sessions(info=scoped_to(ALL)) as session:
        key = await api_keys.find_key(session, presented)
        organisation = await organisations.get(session, key.organisation_id) if key else None
    if key is None or organisation is None:
        return problem(
            401,
            "api_key_invalid",
            "The API key is not one of ours, or it was revoked.",
            field="Authorization",
            headers=CHALLENGE,
        )
    if organisation.status != "active":
        return problem(
            403,
            "organisation_suspended",
            "The organisation is suspended: its keys do not work for now.",
        )
    return Caller(key.id, key.organisation_id, key.scope, api_keys.use_is_news(key))


def current_caller(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """The caller `ApiRoute` identified (handlers take it as `CallerDep`)."""
    caller = getattr(request.state, STATE, None)
    if not isinstance(caller, Caller):  # a route not built by ApiRoute: refuse, never open
        raise RuntimeError("an API route without ApiRoute")
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]
