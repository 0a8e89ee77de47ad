"""`/api/v1/events`: what happened in the last 30 days, newest first, each event in the
envelope the webhooks send (payrequest.public.event)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Path

from payrequest.errors import NotFound
from payrequest.events import read as events
from payrequest.kit.clock import utcnow
from payrequest.public.event import EventObject
from payrequest.public.ids import row_id
from payrequest.public.outbox import PUBLIC_EVENTS, event_objects
from payrequest.web.api.caller import CallerDep
from payrequest.web.api.lists import CursorDep, ListObject
from payrequest.web.api.route import api_router
from payrequest.web.deps import ReadSessionDep

router = api_router(tags=["Events"])
KEPT = timedelta(days=30)


class EventList(ListObject[EventObject]):
    pass


@router.get("/events", response_model=EventList, summary="List events")
async def list_events(caller: CallerDep, session: ReadSessionDep, cursor: CursorDep) -> EventList:
    """The organisation's events of the last 30 days, newest first. `data.object` is the
    object as it is now."""
    rows = await events.newest_first(
        session,
        since=utcnow() - KEPT,
        before_id=cursor.before("event"),
        limit=cursor.fetch,
        names=PUBLIC_EVENTS,
    )
    shown, more = cursor.page(rows)
    return EventList(data=await event_objects(session, shown), has_more=more)


@router.get("/events/{event_id}", response_model=EventObject, summary="Get an event")
async def get_event(
    caller: CallerDep,
    session: ReadSessionDep,
    event_id: Annotated[str, Path(description="The event's id (`evt_...`).", max_length=40)],
) -> EventObject:
    found = await events.get(session, row_id("event", event_id))
    if found is None or found.name not in PUBLIC_EVENTS or found.created_at < utcnow() - KEPT:
        raise NotFound("No such event")
    shown = await event_objects(session, [found])
    if not shown:
        raise NotFound("No such event")
    return shown[0]
