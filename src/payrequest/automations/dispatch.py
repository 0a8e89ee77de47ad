"""The dispatcher: outbox rows not yet dispatched start the flows that wait for them.

Oldest first, in batches, `FOR UPDATE SKIP LOCKED` on PostgreSQL so several workers share the
work; SQLite serialises writers anyway. For each event and each enabled flow whose trigger and
conditions match (for a time trigger's event: the one flow whose step it is,
automations.schedule), ONE flow run is created (a partial unique index on (flow, event) makes a
second one impossible) and its first action job is enqueued; then the batch's rows are marked
dispatched in one UPDATE (events.dispatched) — all in the dispatcher job's transaction.
Events no flow listens to are just marked dispatched.

Flows are an organisation's own: the dispatcher runs for all organisations (a periodic job of
the installation), and an event of one organisation starts only that organisation's flows; the
run, and the job of each of its actions, belong to the event's organisation (db.scope).
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from payrequest.automations.conditions import matches
from payrequest.automations.context import EventData, event_data
from payrequest.automations.execution import enqueue_action
from payrequest.automations.models import Flow, FlowRun
from payrequest.automations.timing import TIME_TRIGGERS
from payrequest.customers import repository as customers
from payrequest.events import dispatched
from payrequest.events.models import OutboxEvent
from payrequest.kit.clock import utcnow
from payrequest.kit.urls import PublicUrls

DISPATCH_JOB = "automations.dispatch"
BATCH = 200


async def start_run(
    session: AsyncSession, *, flow: Flow, event: OutboxEvent, is_test: bool = False
) -> FlowRun | None:
    """A new run of `flow` for `event` with its first action queued; None if a (real) run
    for this pair exists already."""
    if not is_test:
        exists = await session.scalar(
            select(FlowRun.id).where(
                FlowRun.flow_id == flow.id,
                FlowRun.outbox_event_id == event.id,
                FlowRun.is_test.is_(False),
            )
        )
        if exists is not None:
            return None
    if flow.organisation_id != event.organisation_id:
        raise ValueError(f"flow {flow.id} and event {event.id} are of different organisations")
    run = FlowRun(
        organisation_id=event.organisation_id,
        flow_id=flow.id,
        outbox_event_id=event.id,
        event_name=event.name,
        is_test=is_test,
        status="running" if flow.actions else "done",
        actions=[{"kind": a.kind, "config": dict(a.config)} for a in flow.actions],
    )
    session.add(run)
    await session.flush()
    if flow.actions:
        await enqueue_action(
            session, flow_run_id=run.id, position=0, organisation_id=run.organisation_id
        )
    return run


async def dispatch(session: AsyncSession, *, urls: PublicUrls, limit: int = BATCH) -> int:
    """Dispatch up to `limit` events; returns how many rows were taken."""
    events = list(
        (
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.dispatched_at.is_(None))
                .order_by(OutboxEvent.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )
    if not events:
        return 0
    flows = (
        await session.scalars(
            select(Flow)
            .where(
                Flow.enabled.is_(True),
                Flow.trigger.in_({e.name for e in events}),
                Flow.organisation_id.in_({e.organisation_id for e in events}),
            )
            .options(selectinload(Flow.actions))
            .order_by(Flow.id)
        )
    ).all()
    by_trigger: dict[tuple[int, str], list[Flow]] = defaultdict(list)
    for flow in flows:
        by_trigger[flow.organisation_id, flow.trigger].append(flow)
    # The customers' tags for every event some flow's conditions are tested on: one query.
    tags = await customers.tags_by_customer(
        session,
        {
            event.customer_id
            for event in events
            if event.customer_id is not None
            and any(f.conditions for f in by_trigger.get((event.organisation_id, event.name), []))
        },
    )
    now = utcnow()
    for event in events:
        data: EventData | None = None
        for flow in by_trigger.get((event.organisation_id, event.name), []):
            if event.name in TIME_TRIGGERS and (event.payload or {}).get("flow_id") != flow.id:
                continue  # a time trigger's event is the step of one flow (automations.schedule)
            if flow.conditions:
                data = data or await event_data(session, event, urls=urls, tags=tags)
                if not matches(flow.conditions, data.facts):
                    continue
            await start_run(session, flow=flow, event=event)
    await dispatched.mark(session, [event.id for event in events], now=now)
    return len(events)
