"""Webhook endpoints, for owners (Settings → Webhook endpoints, docs/webhooks.md): the
organisation's endpoints with their status; add one (its secret is shown on that one answer,
never again); change its URL, event types, description or switch it on and off; make a new
secret; delete it; send a test event; and per endpoint the delivery log, each delivery with
its tries and a resend. The same payrequest.webhooks commands the API calls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from payrequest.errors import N_, NotFound, PayrequestError
from payrequest.kit.urls import WEBHOOK_ENDPOINTS
from payrequest.public.event_types import EVENT_TYPES
from payrequest.web import i18n
from payrequest.web.admin.staff import OwnerReader
from payrequest.web.auth import Owner
from payrequest.web.deps import AsyncSession, ReadSessionDep, RuntimeDep
from payrequest.web.flash import flash
from payrequest.web.once import first_use
from payrequest.web.render import render
from payrequest.webhooks import endpoints, manual, read
from payrequest.webhooks.endpoints import EndpointChange, WithSecret
from payrequest.webhooks.manual import Tried
from payrequest.webhooks.public import endpoint_status

router = APIRouter()
PAGE = WEBHOOK_ENDPOINTS
SENT_AGAIN = N_(
    "That form was sent already, and nothing was done again: a signing secret is shown once "
    "only. If you did not copy it, make a new secret."
)
MAX_ID = 2**31 - 1
LOG_PAGE = 25  # deliveries shown at once


def _id(value: int) -> int:
    return value if 0 < value <= MAX_ID else 0  # an impossible id: the command's NotFound


def _form(url: str, description: str, event_types: list[str], enabled: bool) -> dict[str, Any]:
    return {"url": url, "description": description, "event_types": event_types, "on": enabled}


@router.get(PAGE, response_class=HTMLResponse)
async def endpoint_list(
    request: Request, user: OwnerReader, session: ReadSessionDep
) -> HTMLResponse:
    return await _list_page(request, session)


@router.post(PAGE, response_class=HTMLResponse, response_model=None)
async def endpoint_create(
    request: Request,
    user: Owner,
    runtime: RuntimeDep,
    url: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    event_types: Annotated[list[str] | None, Form()] = None,
    once: Annotated[str, Form()] = "",
) -> Response:
    """Answers with the list itself, the new secret shown once on it (never in a redirect or
    the session cookie, where it would outlive this answer); the same form again (a reload)
    makes no second endpoint (web.once)."""
    if not first_use(request, once):
        flash(request, i18n.gettext(SENT_AGAIN), "error")
        return RedirectResponse(PAGE, status_code=status.HTTP_303_SEE_OTHER)
    chosen = event_types or []
    change = EndpointChange(url=url, event_types=chosen, description=description)
    try:
        async with runtime.sessions() as session, session.begin():
            made = await endpoints.create(
                session,
                change,
                rules=runtime.webhook_services.rules,
                box=runtime.box,
                actor_id=user.id,
            )
    except PayrequestError as exc:
        async with runtime.read_sessions() as session:
            return await _list_page(
                request,
                session,
                error=i18n.error_text(exc),
                field=exc.field,
                form=_form(url, description, chosen, True),
                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            )
    async with runtime.read_sessions() as session:
        return await _list_page(request, session, made=made)


@router.get(PAGE + "/{endpoint_id}", response_class=HTMLResponse)
async def endpoint_page(
    request: Request,
    endpoint_id: int,
    user: OwnerReader,
    session: ReadSessionDep,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> HTMLResponse:
    return await _endpoint_page(request, session, _id(endpoint_id), before=before)


@router.post(PAGE + "/{endpoint_id}", response_class=Response)
async def endpoint_change(
    request: Request,
    endpoint_id: int,
    user: Owner,
    runtime: RuntimeDep,
    url: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    event_types: Annotated[list[str] | None, Form()] = None,
    enabled: Annotated[str, Form()] = "",
) -> Response:
    chosen = event_types or []
    change = EndpointChange(
        url=url, event_types=chosen, description=description, enabled=bool(enabled)
    )
    try:
        async with runtime.sessions() as session, session.begin():
            await endpoints.change(
                session,
                _id(endpoint_id),
                change,
                rules=runtime.webhook_services.rules,
                actor_id=user.id,
            )
    except NotFound:
        raise
    except PayrequestError as exc:
        async with runtime.read_sessions() as session:
            return await _endpoint_page(
                request,
                session,
                endpoint_id,
                error=i18n.error_text(exc),
                field=exc.field,
                form=_form(url, description, chosen, bool(enabled)),
                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            )
    flash(request, i18n.gettext("The webhook endpoint is saved."))
    return _back(endpoint_id)


@router.post(PAGE + "/{endpoint_id}/rotate", response_class=HTMLResponse, response_model=None)
async def endpoint_rotate(
    request: Request,
    endpoint_id: int,
    user: Owner,
    runtime: RuntimeDep,
    once: Annotated[str, Form()] = "",
) -> Response:
    """The new secret is shown on this answer only; a reload rotates nothing (web.once)."""
    if not first_use(request, once):
        flash(request, i18n.gettext(SENT_AGAIN), "error")
        return _back(endpoint_id)
    async with runtime.sessions() as session, session.begin():
        made = await endpoints.rotate(session, _id(endpoint_id), box=runtime.box, actor_id=user.id)
    async with runtime.read_sessions() as session:
        return await _endpoint_page(request, session, endpoint_id, made=made)


@router.post(PAGE + "/{endpoint_id}/delete")
async def endpoint_delete(
    request: Request, endpoint_id: int, user: Owner, runtime: RuntimeDep
) -> RedirectResponse:
    async with runtime.sessions() as session, session.begin():
        await endpoints.delete(session, _id(endpoint_id), actor_id=user.id)
    flash(request, i18n.gettext("The webhook endpoint is deleted."))
    return RedirectResponse(PAGE, status_code=status.HTTP_303_SEE_OTHER)


@router.post(PAGE + "/{endpoint_id}/test")
async def endpoint_test(
    request: Request, endpoint_id: int, user: Owner, runtime: RuntimeDep
) -> RedirectResponse:
    return await _try(
        request,
        endpoint_id,
        lambda: manual.send_test(runtime.webhook_services, endpoint_id=_id(endpoint_id)),
    )


@router.post(PAGE + "/{endpoint_id}/deliveries/{delivery_id}/resend")
async def delivery_resend(
    request: Request, endpoint_id: int, delivery_id: int, user: Owner, runtime: RuntimeDep
) -> RedirectResponse:
    return await _try(
        request,
        endpoint_id,
        lambda: manual.resend(
            runtime.webhook_services,
            endpoint_id=_id(endpoint_id),
            delivery_id=_id(delivery_id),
        ),
    )


async def _try(
    request: Request, endpoint_id: int, attempt: Callable[[], Awaitable[Tried]]
) -> RedirectResponse:
    """Try once now (a test event, a resend) and say what the endpoint answered."""
    try:
        tried = await attempt()
    except NotFound:
        raise
    except PayrequestError as exc:
        flash(request, i18n.error_text(exc), "error")
        return _back(endpoint_id)
    outcome = tried.outcome
    if outcome.ok:
        message = i18n.gettext("Delivered: the endpoint answered %(status)s.")
        flash(request, message % {"status": outcome.status_code})
    else:
        message = i18n.gettext("Not delivered: %(error)s")
        flash(request, message % {"error": outcome.error}, "error")
    return _back(endpoint_id)


async def _list_page(
    request: Request,
    session: AsyncSession,
    *,
    made: WithSecret | None = None,
    error: str | None = None,
    field: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    found = await endpoints.list_endpoints(session)
    return render(
        request,
        "settings/webhook_endpoints.html",
        status_code=status_code,
        endpoints=found,
        statuses={e.id: endpoint_status(e) for e in found},
        counts=await read.counts(session),
        event_types=EVENT_TYPES,
        new_secret=made.secret if made else None,
        new_endpoint=made.endpoint if made else None,
        error=error,
        field=field,
        form=form or _form("https://", "", [], True),
    )


async def _endpoint_page(
    request: Request,
    session: AsyncSession,
    endpoint_id: int,
    *,
    made: WithSecret | None = None,
    before: int | None = None,
    error: str | None = None,
    field: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    endpoint = await endpoints.get(session, endpoint_id)
    deliveries = await read.deliveries(session, endpoint.id, limit=LOG_PAGE + 1, before=before)
    more = len(deliveries) > LOG_PAGE
    deliveries = deliveries[:LOG_PAGE]
    shown = form or _form(
        endpoint.url, endpoint.description, list(endpoint.event_types), endpoint.enabled
    )
    return render(
        request,
        "settings/webhook_endpoint.html",
        status_code=status_code,
        endpoint=endpoint,
        endpoint_status=endpoint_status(endpoint),
        event_types=EVENT_TYPES,
        deliveries=deliveries,
        attempts=await read.attempts(session, [row.delivery.id for row in deliveries]),
        older=deliveries[-1].delivery.id if more and deliveries else None,
        new_secret=made.secret if made else None,
        error=error,
        field=field,
        form=shown,
    )


def _back(endpoint_id: int) -> RedirectResponse:
    return RedirectResponse(f"{PAGE}/{endpoint_id}", status_code=status.HTTP_303_SEE_OTHER)
