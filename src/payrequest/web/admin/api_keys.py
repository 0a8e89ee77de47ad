"""API keys, for owners (Settings → API keys): the organisation's keys by prefix with their
scope, when each was made and last used; make one (its key is shown on this one answer, never
again) and revoke one. The same api_keys.service the command line calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from payrequest.api_keys import service as api_keys
from payrequest.errors import N_, NotFound, PayrequestError
from payrequest.web import i18n
from payrequest.web.admin.staff import OwnerReader
from payrequest.web.auth import Owner
from payrequest.web.deps import ReadSessionDep, RuntimeDep
from payrequest.web.flash import flash
from payrequest.web.once import first_use
from payrequest.web.render import render

router = APIRouter()
PAGE = "/settings/api-keys"
SENT_AGAIN = N_(
    "That form was sent already, and its key made then: a key is shown once only. If you did "
    "not copy it, revoke it and make a new one."
)
MAX_ID = 2**31 - 1


@router.get(PAGE, response_class=HTMLResponse)
async def api_key_list(
    request: Request, user: OwnerReader, session: ReadSessionDep
) -> HTMLResponse:
    return render(request, "settings/api_keys.html", keys=await api_keys.list_keys(session))


@router.post(PAGE, response_class=HTMLResponse, response_model=None)
async def api_key_create(
    request: Request,
    user: Owner,
    runtime: RuntimeDep,
    name: Annotated[str, Form()] = "",
    scope: Annotated[str, Form()] = "read",
    once: Annotated[str, Form()] = "",
) -> Response:
    """Answers with the page itself, the new key shown once on it (never in a redirect or the
    session cookie, where it would outlive this answer); the same form again (a reload) makes
    no second key (web.once)."""
    if not first_use(request, once):
        flash(request, i18n.gettext(SENT_AGAIN), "error")
        return RedirectResponse(PAGE, status_code=status.HTTP_303_SEE_OTHER)
    error = None
    made = None
    try:
        async with runtime.sessions() as session, session.begin():
            made = await api_keys.create_key(session, name=name, scope=scope, actor_id=user.id)
    except PayrequestError as exc:
        error = i18n.error_text(exc)
    async with runtime.read_sessions() as session:
        keys = await api_keys.list_keys(session)
    return render(
        request,
        "settings/api_keys.html",
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if error else status.HTTP_200_OK,
        keys=keys,
        new_key=made.secret if made else None,
        new_name=made.row.name if made else None,
        error=error,
        form={"name": name, "scope": scope},
    )


@router.post(PAGE + "/{key_id}/revoke")
async def api_key_revoke(
    request: Request, user: Owner, runtime: RuntimeDep, key_id: int
) -> RedirectResponse:
    try:
        if not 0 < key_id <= MAX_ID:
            raise NotFound("No such API key")
        async with runtime.sessions() as session, session.begin():
            revoked = await api_keys.revoke_key(session, key_id=key_id, actor_id=user.id)
    except PayrequestError as exc:
        flash(request, i18n.error_text(exc), "error")
    else:
        flash(request, i18n.gettext("API key %(name)s is revoked.") % {"name": revoked.name})
    return RedirectResponse(PAGE, status_code=status.HTTP_303_SEE_OTHER)
