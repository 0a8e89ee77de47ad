"""`GET /events`: the live-update stream of a signed-in staff browser (Server-Sent Events).

Each event is a small notice naming what changed (its id is the outbox id); the page decides
which fragment to re-fetch. A reconnecting browser sends `Last-Event-ID` and first gets what
it missed, read back from the outbox.

Each stream hears only of its own organisation (`broker.for_organisation`): staff of the
organisation they work in, a customer of their own changes in their business. The replay reads
in that organisation's scope too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from payrequest.db.scope import scoped_to
from payrequest.realtime.broker import Filter, Notice, OutboxTail, for_organisation, since
from payrequest.web.auth import StaffUser
from payrequest.web.deps import RuntimeDep
from payrequest.web.portal.session import PortalCustomer

router = APIRouter(include_in_schema=False)
PING_SECONDS = 15


def _event(notice: Notice) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(notice.as_json()), id=str(notice.id), event="change")


async def notices(
    request: Request, runtime: RuntimeDep, organisation_id: int, accepts: Filter | None = None
) -> AsyncIterator[ServerSentEvent]:
    """Replay after Last-Event-ID, then follow the live tail; never sends an id twice. Only
    notices of `organisation_id` that `accepts` (if given) lets through."""
    tail: OutboxTail = request.app.state.tail
    accepts = for_organisation(organisation_id, accepts)
    subscription = tail.subscribe(accepts)  # before the replay, so nothing falls in between
    try:
        replayed: set[int] = set()
        # The browser's Last-Event-ID after a reconnect; on first connect, the page's own
        # `since` (what the page was rendered with), so nothing between render and connect
        # is lost.
        last = request.headers.get("last-event-id") or request.query_params.get("since", "")
        if last.isdigit():
            async with runtime.read_sessions(info=scoped_to(organisation_id)) as session:
                for notice in await since(session, int(last), accepts=accepts):
                    replayed.add(notice.id)
                    yield _event(notice)
        yield ServerSentEvent(comment="ready")
        async for notice in subscription:
            if notice.id not in replayed:
                yield _event(notice)
    finally:
        tail.unsubscribe(subscription)


@router.get("/events")
async def staff_events(
    request: Request, user: StaffUser, runtime: RuntimeDep
) -> EventSourceResponse:
    """Staff see every change of the organisation they work in."""
    return EventSourceResponse(
        notices(request, runtime, user.organisation_id),
        ping=PING_SECONDS,
        headers={"X-Accel-Buffering": "no"},
    )


@router.get("/portal/events")
async def customer_events(
    request: Request, customer: PortalCustomer, runtime: RuntimeDep
) -> EventSourceResponse:
    """A customer hears only of their own changes (in their own organisation)."""
    customer_id = customer.id
    return EventSourceResponse(
        notices(
            request,
            runtime,
            customer.organisation_id,
            lambda notice: notice.customer_id == customer_id,
        ),
        ping=PING_SECONDS,
        headers={"X-Accel-Buffering": "no"},
    )
