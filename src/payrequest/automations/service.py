"""Flows for the admin: save (with every template checked), switch on/off, list with their last
runs, preview against a real past event, test runs, and Retry of a failed action.
Service functions: session first, never commit. Each change is recorded in the audit log with
who made it (`actor_id`, users.id; None: the system): names, triggers and kinds of action, never
an action's texts, addresses or secrets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from payrequest.audit import service as audit
from payrequest.automations import actions, conditions, messages, ready_made, timing
from payrequest.automations.context import event_data
from payrequest.automations.dispatch import start_run
from payrequest.automations.execution import enqueue_action, idempotency_key, stored_error
from payrequest.automations.models import ActionRun, Flow, FlowAction, FlowRun
from payrequest.automations.templating import TemplateError
from payrequest.errors import Conflict, NotFound, PayrequestError, ValidationFailed
from payrequest.events import names
from payrequest.events.models import OutboxEvent
from payrequest.jobs import queue
from payrequest.jobs.models import Job
from payrequest.kit.clock import utcnow
from payrequest.kit.crypto import SecretBox
from payrequest.kit.urls import PublicUrls
from payrequest.notify.webhook import signing

TRIGGERS = (*names.ALL_EVENTS, *timing.TIME_TRIGGERS)
MAX_ACTIONS = 10


@dataclass
class Draft:
    """A flow as the builder form holds it (not yet checked)."""

    name: str = ""
    trigger: str = names.PAYMENT_REQUEST_PAID
    conditions: dict[str, Any] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)  # {"kind", "config"}
    timing: dict[str, Any] = field(default_factory=dict)  # a time trigger's (automations.timing)

    @classmethod
    def of(cls, flow: Flow) -> Draft:
        return cls(
            name=flow.name,
            trigger=flow.trigger,
            conditions=dict(flow.conditions or {}),
            actions=[{"kind": a.kind, "config": dict(a.config)} for a in flow.actions],
            timing=dict(flow.timing or {}),
        )

    def cleaned_timing(self) -> dict[str, Any] | None:
        """The timing to store: a time trigger's, checked (ValidationFailed); else None."""
        return timing.clean(self.timing) if self.trigger in timing.TIME_TRIGGERS else None


class FlowInvalid(ValidationFailed):
    """Some fields are wrong; `errors` maps each form field to its error."""

    def __init__(self, errors: dict[str, ValidationFailed]) -> None:
        super().__init__("Please correct the marked fields")
        self.errors = errors


async def check(
    draft: Draft, *, allow: Iterable[str], default_language: str = "nb"
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Clean conditions and actions; raises FlowInvalid with every error found.
    `default_language`: the language of message texts saved without one."""
    errors: dict[str, ValidationFailed] = {}
    if not draft.name.strip() or len(draft.name.strip()) > 120:
        errors["name"] = ValidationFailed("A name of 1-120 characters")
    if draft.trigger not in TRIGGERS:
        errors["trigger"] = ValidationFailed("Choose an event")
    try:
        draft.cleaned_timing()
    except ValidationFailed as exc:
        errors[exc.field or "days"] = exc
    try:
        cleaned_conditions = conditions.clean(draft.conditions)
    except ValidationFailed as exc:
        errors[exc.field or "conditions"] = exc
        cleaned_conditions = {}
    if not draft.actions:
        errors["actions"] = ValidationFailed("Add at least one action")
    if len(draft.actions) > MAX_ACTIONS:
        errors["actions"] = ValidationFailed("At most %(most)s actions", most=MAX_ACTIONS)
    cleaned: list[dict[str, Any]] = []
    for index, action in enumerate(draft.actions):
        try:
            config = await actions.clean(
                action["kind"],
                action.get("config") or {},
                index=index,
                allow=allow,
                default_language=default_language,
            )
        except ValidationFailed as exc:
            errors[exc.field or f"a{index}_kind"] = exc
            continue
        cleaned.append({"kind": action["kind"], "config": config})
    if errors:
        raise FlowInvalid(errors)
    return cleaned_conditions, cleaned


async def save(
    session: AsyncSession,
    *,
    draft: Draft,
    box: SecretBox,
    allow: Iterable[str],
    flow_id: int | None = None,
    checked: tuple[dict[str, Any], list[dict[str, Any]]] | None = None,
    actor_id: int | None = None,
) -> Flow:
    """`checked`: the result of `check(draft)` made before opening the session (a webhook URL
    check resolves DNS, which a transaction should not wait for)."""
    cleaned_conditions, cleaned = checked or await check(draft, allow=allow)
    if flow_id is None:
        flow = Flow(enabled=False)
        session.add(flow)
        before: dict[str, object] = {}
    else:
        flow = await get(session, flow_id)
        before = _shown(flow)
        for old in list(flow.actions):
            flow.actions.remove(old)
        await session.flush()  # delete before insert: (flow_id, position) is unique
    flow.name = draft.name.strip()
    flow.trigger = draft.trigger
    flow.timing = draft.cleaned_timing()
    flow.conditions = cleaned_conditions
    flow.actions.extend(
        FlowAction(position=i, kind=a["kind"], config=a["config"]) for i, a in enumerate(cleaned)
    )
    if flow.webhook_secret is None and any(a["kind"] == "webhook" for a in cleaned):
        flow.webhook_secret = box.seal(signing.new_secret())
    await session.flush()
    if flow_id is None:
        await audit.record_edit(session, "flow.create", flow.id, actor_id, _shown(flow))
    else:
        changed = audit.changes(before, _shown(flow))
        await audit.record_edit(
            session, "flow.update", flow.id, actor_id, {"name": flow.name, **changed}
        )
    return flow


def _shown(flow: Flow) -> dict[str, object]:
    """What the audit log keeps of a flow: its name, trigger, conditions and kinds of action."""
    return {
        "name": flow.name,
        "trigger": flow.trigger,
        "timing": ", ".join(f"{k}={v}" for k, v in sorted((flow.timing or {}).items())),
        "conditions": ", ".join(f"{k}={v}" for k, v in sorted((flow.conditions or {}).items())),
        "actions": ", ".join(a.kind for a in sorted(flow.actions, key=lambda a: a.position)),
    }


async def get(session: AsyncSession, flow_id: int) -> Flow:
    flow = (
        await session.scalars(
            select(Flow).where(Flow.id == flow_id).options(selectinload(Flow.actions))
        )
    ).one_or_none()
    if flow is None:
        raise NotFound("No such flow")
    return flow


async def add_ladder(session: AsyncSession, *, language: str, box: SecretBox) -> int:
    """The friendly reminder ladder (ready_made.ladder), switched off, unless the organisation
    has it already; returns how many flows were added. Each is checked as any saved flow."""
    exists = await session.scalar(select(Flow.id).where(Flow.name == ready_made.LADDER_SMS))
    if exists is not None:
        return 0
    steps = ready_made.ladder(language)
    for step in steps:
        draft = Draft(
            name=step["name"],
            trigger=step["trigger"],
            actions=step["actions"],
            timing=step["timing"],
        )
        await save(session, draft=draft, box=box, allow=(),
                   checked=await check(draft, allow=(), default_language=language))  # fmt: skip
    return len(steps)


async def set_enabled(
    session: AsyncSession,
    *,
    flow_id: int,
    enabled: bool,
    allow: Iterable[str] = (),
    default_language: str = "nb",
    actor_id: int | None = None,
) -> Flow:
    """Switching on checks the flow as saved (a ready-made flow may still miss an address).
    Switching to what it already is changes nothing and is not recorded."""
    flow = await get(session, flow_id)
    if enabled and not flow.enabled:
        await check(Draft.of(flow), allow=allow, default_language=default_language)
    changed = flow.enabled != enabled
    flow.enabled = enabled
    if changed and enabled:
        flow.enabled_at = utcnow()  # a time trigger sends nothing late from before this
    await session.flush()
    if changed:
        action = "flow.enable" if enabled else "flow.disable"
        await audit.record_edit(session, action, flow.id, actor_id, {"name": flow.name})
    return flow


def webhook_secret(flow: Flow, box: SecretBox) -> str | None:
    return box.open(flow.webhook_secret) if flow.webhook_secret else None


@dataclass(frozen=True, slots=True)
class FlowRow:
    flow: Flow
    runs: list[FlowRun]
    total_runs: int


async def list_flows(session: AsyncSession, *, last_runs: int = 3) -> list[FlowRow]:
    flows = (
        await session.scalars(select(Flow).options(selectinload(Flow.actions)).order_by(Flow.id))
    ).all()
    counted = await session.execute(select(FlowRun.flow_id, func.count()).group_by(FlowRun.flow_id))
    totals = {int(flow_id): int(n) for flow_id, n in counted}
    rows = []
    for flow in flows:
        runs = await recent_runs(session, flow_id=flow.id, limit=last_runs)
        rows.append(FlowRow(flow, runs, int(totals.get(flow.id, 0))))
    return rows


async def recent_runs(session: AsyncSession, *, flow_id: int, limit: int = 20) -> list[FlowRun]:
    stmt = select(FlowRun).where(FlowRun.flow_id == flow_id).order_by(FlowRun.id.desc())
    return list((await session.scalars(stmt.limit(limit))).all())


async def get_run(session: AsyncSession, run_id: int) -> FlowRun:
    run = (
        await session.scalars(
            select(FlowRun).where(FlowRun.id == run_id).options(selectinload(FlowRun.action_runs))
        )
    ).one_or_none()
    if run is None:
        raise NotFound("No such run")
    return run


async def recent_events(
    session: AsyncSession, *, trigger: str, limit: int = 10
) -> Sequence[OutboxEvent]:
    stmt = select(OutboxEvent).where(OutboxEvent.name == trigger).order_by(OutboxEvent.id.desc())
    return (await session.scalars(stmt.limit(limit))).all()


@dataclass(frozen=True, slots=True)
class Preview:
    position: int
    kind: str
    rendered: dict[str, Any] | None
    error: str | None  # a message id where there is one (see execution.stored_error)


async def preview(
    session: AsyncSession,
    *,
    draft: Draft,
    event_id: int,
    urls: PublicUrls,
    default_language: str = "nb",
) -> list[Preview]:
    """Each action rendered against a real past event, in the language it would be sent in
    (a portal link is shown as a sample)."""
    event = await session.get(OutboxEvent, event_id)
    if event is None:
        raise NotFound("No such event")
    data = await event_data(session, event, urls=urls)
    customer = data.customer.locale if data.customer is not None else None
    out = []
    for index, action in enumerate(draft.actions):
        kind, config = action["kind"], action.get("config") or {}
        context = dict(data.context)
        if kind == "portal_link":
            context["portal_link"] = urls.portal_link("sample")
        language = messages.reader_language(
            kind, config, customer=customer, default=default_language
        )
        try:
            rendered = actions.render(kind, config, context, language=language)
            out.append(Preview(index, kind, rendered, None))
        except (TemplateError, PayrequestError, KeyError, ValueError) as exc:
            out.append(Preview(index, kind, None, stored_error(exc)))
    return out


async def test_run(
    session: AsyncSession, *, flow_id: int, event_id: int, actor_id: int | None = None
) -> FlowRun:
    """A fresh run of the flow (as saved) for a past event, marked as a test."""
    flow = await get(session, flow_id)
    event = await session.get(OutboxEvent, event_id)
    if event is None:
        raise NotFound("No such event")
    run = await start_run(session, flow=flow, event=event, is_test=True)
    assert run is not None  # test runs are never deduplicated
    details = {"name": flow.name, "event": event.name, "event_id": event.id, "run_id": run.id}
    await audit.record_edit(session, "flow.test_run", flow.id, actor_id, details)
    return run


async def retry_action(
    session: AsyncSession, *, run_id: int, position: int, actor_id: int | None = None
) -> ActionRun:
    """Queue a failed action again (same idempotency key: a message that did leave is not
    delivered twice to a receiver that deduplicates)."""
    run = await session.get(FlowRun, run_id, with_for_update=True)
    record = (
        await session.scalars(
            select(ActionRun)
            .where(ActionRun.flow_run_id == run_id, ActionRun.position == position)
            .with_for_update()
        )
    ).one_or_none()
    if run is None or record is None:
        raise NotFound("No such action run")
    if record.status != "failed":
        raise Conflict("Only a failed action can be retried")
    record.status = "retrying"
    record.finished_at = None
    if record.kind == "portal_link" and record.sent_at is None:
        record.rendered = None  # render again: a new link, in case the first one expired
    run.status = "running"
    run.error = None
    run.finished_at = None
    key = idempotency_key(run_id, position)
    job = (await session.scalars(select(Job).where(Job.dedupe_key == key))).one_or_none()
    if job is None:
        await enqueue_action(
            session, flow_run_id=run_id, position=position, organisation_id=run.organisation_id
        )
    elif job.status == "dead":
        await queue.retry_dead(session, job_id=job.id)
    await session.flush()
    await audit.record(
        session,
        action="flow.retry_action",
        user_id=actor_id,
        subject_type="flow",
        subject_id=run.flow_id,
        details={"run_id": run_id, "position": position, "kind": record.kind},
    )
    return record
