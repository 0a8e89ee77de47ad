"""The installation's operator: every organisation at a glance, and suspending one.

Only a person whose account has `is_operator` sees these pages; for anyone else, signed in
or not, they do not exist (404). Being the operator does not depend on the organisation the
person's session works in: an operator whose own organisation is suspended can still
reactivate it here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse

from payrequest.db.scope import ALL, scoped_to
from payrequest.errors import PayrequestError
from payrequest.organisations import suspension
from payrequest.runtime import Runtime
from payrequest.sessions import service as sessions
from payrequest.tenancy import overview
from payrequest.users import service as users
from payrequest.users.models import User
from payrequest.web import i18n
from payrequest.web.auth import check_csrf, client_address, current_user, session_token
from payrequest.web.deps import RuntimeDep
from payrequest.web.flash import flash
from payrequest.web.render import render

router = APIRouter(include_in_schema=False)
PATH = "/operator"


async def require_operator(request: Request, runtime: Runtime) -> User:
    """The signed-in operator; 404 for everyone else. Sets the page's language (and its
    header, when the person may work in their session's organisation)."""
    member = await current_user(request, runtime)
    token = session_token(request)
    async with runtime.read_sessions() as session:
        alive = await sessions.alive(session, token=token, kind="staff") if token else None
        user = await users.get(session, alive.user_id) if alive and alive.user_id else None
    if user is None or not user.is_active or not user.is_operator:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    if member is not None:
        request.state.user = member
    i18n.set_language(user.locale)
    return user


@router.get(PATH, response_class=HTMLResponse)
async def overview_page(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    await require_operator(request, runtime)
    async with runtime.read_sessions(info=scoped_to(ALL)) as session:
        rows = await overview.overview(session)
    return render(request, "operator/overview.html", rows=rows, days=overview.RECENT.days)


@router.post(PATH + "/organisations/{organisation_id}/suspend")
async def suspend(
    request: Request,
    runtime: RuntimeDep,
    organisation_id: int,
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    return await _change(request, runtime, organisation_id, csrf, suspend=True)


@router.post(PATH + "/organisations/{organisation_id}/reactivate")
async def reactivate(
    request: Request,
    runtime: RuntimeDep,
    organisation_id: int,
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    return await _change(request, runtime, organisation_id, csrf, suspend=False)


async def _change(
    request: Request, runtime: Runtime, organisation_id: int, csrf: str, *, suspend: bool
) -> RedirectResponse:
    operator = await require_operator(request, runtime)
    check_csrf(request, csrf)
    command = suspension.suspend if suspend else suspension.reactivate
    try:
        async with runtime.sessions(info=scoped_to(ALL)) as session, session.begin():
            organisation = await command(
                session,
                organisation_id=organisation_id,
                by_user_id=operator.id,
                address=client_address(request),
            )
            name = organisation.name
    except PayrequestError as exc:
        flash(request, i18n.error_text(exc), "error")
    else:
        done = (
            i18n.gettext("%(name)s is suspended.")
            if suspend
            else i18n.gettext("%(name)s is active again.")
        )
        flash(request, done % {"name": name})
    return RedirectResponse(PATH, status_code=status.HTTP_303_SEE_OTHER)
