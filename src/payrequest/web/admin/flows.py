"""Automations in the admin: the flow list with on/off switches and last runs, the form-based
builder (trigger, conditions, actions added, moved and removed by plain form posts, preview
against a real past event), test runs, and the run log with Retry for failed actions.

Flows send SMS, emails and webhooks to anyone in the business's name, so only owners create,
edit, switch on, test and retry them; staff and read-only users look."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from payrequest.automations import actions as action_kinds
from payrequest.automations import messages, reminders, schedule, service, timing
from payrequest.automations.conditions import LANGUAGES
from payrequest.automations.context import VARIABLES
from payrequest.automations.ready_made import is_ready_made_name
from payrequest.commands.payment_requests import card_provider
from payrequest.errors import PayrequestError
from payrequest.kit.markets import COUNTRIES
from payrequest.kit.money import SUPPORTED_CURRENCIES, shared_minor_digits, to_major, to_minor
from payrequest.payment_requests.state import ORIGINS
from payrequest.users.members import Member
from payrequest.web import i18n
from payrequest.web.auth import Owner, StaffUser
from payrequest.web.deps import ReadSessionDep, RuntimeDep
from payrequest.web.flash import flash
from payrequest.web.labels import flow_name
from payrequest.web.nudge import wake
from payrequest.web.render import render

router = APIRouter()
ACTION_FIELDS = (
    *("to", "subject", "text", "html", "url", "minutes", "channel"),
    *("via", "send", "lifetime_days"),  # a payment request's (automations.requesting)
)
FIXED = "fixed"  # `a<i>_recipient`: a fixed number or address (in `a<i>_to`), not the customer
# What a new flow's calendar fields start at (used when its trigger is a time trigger).
NEW_TIMING = timing.Timing(days=3).stored()


def may_edit(user: Member) -> bool:
    """Whether the user may change flows (see the module's docstring)."""
    return user.role == "owner"


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)


def _minor(text: str, field: str, errors: dict[str, str]) -> int | None:
    text = text.strip().replace(" ", "").replace(",", ".")
    if not text:
        return None
    try:
        minor = to_minor(Decimal(text), shared_minor_digits())
    except (InvalidOperation, ValueError):
        minor = -1  # not a number, or finer than the minor unit
    if minor >= 0:
        return minor
    errors[field] = i18n.gettext("Enter an amount such as 100 or 99.50")
    return None


def _timing_shown(raw: dict[str, Any]) -> dict[str, Any]:
    """The timing as the form shows it: what was typed, the defaults for what was not."""
    shown = {**NEW_TIMING, **{k: v for k, v in raw.items() if v not in (None, "")}}
    try:
        shown["days"] = int(shown["days"])
    except (TypeError, ValueError):
        shown["days"] = NEW_TIMING["days"]
    return shown


def _major(minor: Any) -> str:
    if minor in (None, ""):
        return ""
    return f"{to_major(int(minor), shared_minor_digits()).normalize():f}"


def draft_from_form(form: FormData, language: str) -> tuple[service.Draft, dict[str, str]]:
    """The builder form as a draft. Message texts: `a<i>_<key>` in `language` (the default
    language), `a<i>_<key>_<other language>` for the variants."""
    errors: dict[str, str] = {}

    def value(name: str) -> str:
        got = form.get(name)
        return got if isinstance(got, str) else ""

    conditions: dict[str, Any] = {
        "amount_min": _minor(value("amount_min"), "amount_min", errors),
        "amount_max": _minor(value("amount_max"), "amount_max", errors),
    }
    for key in ("currency", "origin", "country", "language", "reminders_max", "tag"):
        conditions[key] = value(key).strip()
    try:
        count = min(int(value("action_count") or 0), service.MAX_ACTIONS + 1)
    except ValueError:
        count = 0
    found = []
    for index in range(count):
        kind = value(f"a{index}_kind")
        if kind not in action_kinds.KINDS:
            continue
        config: dict[str, Any] = {key: value(f"a{index}_{key}") for key in ACTION_FIELDS}
        recipient = value(f"a{index}_recipient")
        if recipient and recipient != FIXED:
            config["to"] = action_kinds.CUSTOMER
        if kind in messages.MESSAGE_KEYS:
            config["language"] = language
            config["variants"] = {
                other: {
                    key: value(f"a{index}_{key}_{other}") for key in messages.MESSAGE_KEYS[kind]
                }
                for other in messages.others(language)
            }
        found.append({"kind": kind, "config": config})
    draft = service.Draft(
        name=value("name"),
        trigger=value("trigger"),
        conditions=conditions,
        actions=found,
        timing={
            "days": value("days"),
            "missed": value("missed"),
            "quiet_hours": bool(value("quiet_hours")),
            "weekends": bool(value("weekends")),
        },
    )
    return draft, errors


def _apply_op(draft: service.Draft, op: str, add_kind: str, language: str) -> None:
    """Builder buttons that change the draft without saving it."""
    items = draft.actions
    if op == "add" and add_kind in action_kinds.KINDS and len(items) < service.MAX_ACTIONS:
        items.append({"kind": add_kind, "config": action_kinds.default_config(add_kind, language)})
        return
    verb, _, where = op.partition(":")
    if not where.isdigit() or int(where) >= len(items):
        return
    index = int(where)
    if verb == "remove":
        items.pop(index)
    elif verb == "up" and index > 0:
        items[index - 1], items[index] = items[index], items[index - 1]
    elif verb == "down" and index < len(items) - 1:
        items[index + 1], items[index] = items[index], items[index + 1]


def _form_values(draft: service.Draft) -> dict[str, Any]:
    conditions = dict(draft.conditions)
    for key in ("amount_min", "amount_max"):
        if isinstance(conditions.get(key), int):
            conditions[key] = _major(conditions[key])
        elif conditions.get(key) is None:
            conditions[key] = ""
    return conditions


async def _page(
    request: Request,
    runtime: Any,
    *,
    draft: service.Draft,
    flow_id: int | None,
    errors: dict[str, str] | None = None,
    previews: list[service.Preview] | None = None,
    preview_event: int | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    user = request.state.user
    async with runtime.read_sessions() as session:
        flow = await service.get(session, flow_id) if flow_id is not None else None
        events = await service.recent_events(session, trigger=draft.trigger)
        runs = await service.recent_runs(session, flow_id=flow_id) if flow_id else []
        skipped = await reminders.skipped_by_flow(session, flow_id) if flow_id else []
        ahead = await schedule.days_ahead(session, flow, now=runtime.calendar.now()) if flow else []
    can_write = may_edit(user)
    secret = service.webhook_secret(flow, runtime.box) if flow is not None and can_write else None
    language = _default_language(runtime)
    return render(
        request,
        "flows/edit.html",
        status_code=status_code,
        flow=flow,
        flow_name=flow_name,
        draft=draft,
        name_value=flow_name(draft.name),
        text_languages=[language, *messages.others(language)],
        message_keys=messages.MESSAGE_KEYS,
        to_customer=action_kinds.CUSTOMER,
        card_payments=await card_provider(runtime) is not None,
        conditions=_form_values(draft),
        errors=errors or {},
        previews={p.position: p for p in previews or []},
        preview_event=preview_event,
        events=events,
        runs=runs,
        skipped=skipped,
        secret=secret,
        can_write=can_write,
        triggers=service.TRIGGERS,
        time_triggers=timing.TIME_TRIGGERS,
        ahead=[(i18n.day(day), count) for day, count in ahead],
        timing=timing.Timing.of(_timing_shown(draft.timing)),
        timing_raw=draft.timing,
        kinds=action_kinds.KINDS,
        currencies=sorted(SUPPORTED_CURRENCIES),
        origins=ORIGINS,
        countries=COUNTRIES,
        condition_languages=LANGUAGES,
        variables=sorted(VARIABLES),
    )


def _default_language(runtime: Any) -> str:
    """The language of the texts staff write first (and that fixed recipients read)."""
    return str(runtime.settings.default_locale)


def _kept_name(submitted: str, stored: str | None) -> str:
    """A ready-made name shown translated and saved unchanged stays the message id."""
    if stored is not None and is_ready_made_name(stored) and submitted.strip() == flow_name(stored):
        return stored
    return submitted


@router.get("/flows", response_class=HTMLResponse)
async def flow_list(request: Request, user: StaffUser, session: ReadSessionDep) -> HTMLResponse:
    return render(
        request,
        "flows/list.html",
        rows=await service.list_flows(session),
        can_write=may_edit(user),
        flow_name=flow_name,
    )


@router.get("/flows/new", response_class=HTMLResponse)
async def new_flow(request: Request, user: StaffUser, runtime: RuntimeDep) -> HTMLResponse:
    del user
    first = action_kinds.default_config("sms", _default_language(runtime))
    draft = service.Draft(actions=[{"kind": "sms", "config": first}], timing=NEW_TIMING)
    return await _page(request, runtime, draft=draft, flow_id=None)


@router.get("/flows/runs/{run_id}", response_class=HTMLResponse)
async def run_log(
    request: Request, user: StaffUser, session: ReadSessionDep, run_id: int
) -> HTMLResponse:
    run = await service.get_run(session, run_id)  # NotFound: the error page
    flow = await service.get(session, run.flow_id)
    return render(
        request,
        "flows/run.html",
        run=run,
        flow=flow,
        flow_name=flow_name,
        can_write=may_edit(user),
    )


@router.post("/flows/runs/{run_id}/actions/{position}/retry")
async def retry_action(
    request: Request, user: Owner, runtime: RuntimeDep, run_id: int, position: int
) -> RedirectResponse:
    try:
        async with runtime.sessions() as session, session.begin():
            await service.retry_action(session, run_id=run_id, position=position, actor_id=user.id)
    except PayrequestError as exc:
        flash(request, i18n.error_text(exc), "error")
    else:
        wake(request)
        flash(request, i18n.gettext("The action is queued again."))
    return _see_other(f"/flows/runs/{run_id}")


@router.get("/flows/{flow_id}", response_class=HTMLResponse)
async def edit_flow(
    request: Request, user: StaffUser, runtime: RuntimeDep, flow_id: int
) -> HTMLResponse:
    del user
    async with runtime.read_sessions() as session:
        flow = await service.get(session, flow_id)  # NotFound: the error page
        draft = service.Draft.of(flow)
    language = _default_language(runtime)
    for action in draft.actions:  # the editor's first text field is the default language's
        action["config"] = messages.rebased(action["kind"], action["config"], language)
    return await _page(request, runtime, draft=draft, flow_id=flow_id)


async def _builder_post(
    request: Request,
    runtime: Any,
    flow_id: int | None,
    stored_name: str | None = None,
    *,
    actor_id: int,
) -> Any:
    form = await request.form()
    language = _default_language(runtime)
    draft, errors = draft_from_form(form, language)
    draft.name = _kept_name(draft.name, stored_name)
    op = str(form.get("op") or "save")
    if op == "preview":
        raw = str(form.get("preview_event") or "")
        if not raw.isdigit():
            errors["preview_event"] = i18n.gettext("Choose an event")
            return await _page(request, runtime, draft=draft, flow_id=flow_id, errors=errors)
        async with runtime.read_sessions() as session:
            previews = await service.preview(
                session,
                draft=draft,
                event_id=int(raw),
                urls=runtime.urls,
                default_language=language,
            )
        return await _page(
            request, runtime, draft=draft, flow_id=flow_id, previews=previews,
            preview_event=int(raw),
        )  # fmt: skip
    if op != "save":
        _apply_op(draft, op, str(form.get("add_kind") or ""), language)
        return await _page(request, runtime, draft=draft, flow_id=flow_id, errors=errors)
    allow = runtime.settings.automations.webhook_allow
    try:
        # DNS for webhooks: no session held
        checked = await service.check(draft, allow=allow, default_language=language)
    except service.FlowInvalid as exc:
        errors.update({field: i18n.error_text(error) for field, error in exc.errors.items()})
    if errors:
        return await _page(
            request, runtime, draft=draft, flow_id=flow_id, errors=errors, status_code=422
        )
    async with runtime.sessions() as session, session.begin():
        flow = await service.save(
            session,
            draft=draft,
            box=runtime.box,
            allow=allow,
            flow_id=flow_id,
            checked=checked,
            actor_id=actor_id,
        )
        saved_id = flow.id
    flash(request, i18n.gettext("The flow is saved."))
    return _see_other(f"/flows/{saved_id}")


@router.post("/flows/new", response_model=None)
async def create_flow(
    request: Request, user: Owner, runtime: RuntimeDep
) -> HTMLResponse | RedirectResponse:
    result: HTMLResponse | RedirectResponse = await _builder_post(
        request, runtime, None, actor_id=user.id
    )
    return result


@router.post("/flows/{flow_id}", response_model=None)
async def update_flow(
    request: Request, user: Owner, runtime: RuntimeDep, flow_id: int
) -> HTMLResponse | RedirectResponse:
    try:
        async with runtime.read_sessions() as session:
            stored = await service.get(session, flow_id)
            stored_name = stored.name
    except PayrequestError as exc:
        flash(request, i18n.error_text(exc), "error")
        return _see_other("/flows")
    result: HTMLResponse | RedirectResponse = await _builder_post(
        request, runtime, flow_id, stored_name, actor_id=user.id
    )
    return result


@router.post("/flows/{flow_id}/toggle")
async def toggle_flow(
    request: Request, user: Owner, runtime: RuntimeDep, flow_id: int
) -> RedirectResponse:
    form = await request.form()
    enabled = form.get("enabled") == "true"
    back = str(form.get("back") or "/flows")
    back = back if back.startswith("/flows") else "/flows"
    try:
        async with runtime.sessions() as session, session.begin():
            await service.set_enabled(
                session,
                flow_id=flow_id,
                enabled=enabled,
                allow=runtime.settings.automations.webhook_allow,
                default_language=_default_language(runtime),
                actor_id=user.id,
            )
    except service.FlowInvalid as exc:
        detail = "; ".join(i18n.error_text(error) for error in exc.errors.values())
        flash(request, i18n.gettext("Complete the flow before switching it on:") + " " + detail,
              "error")  # fmt: skip
    except PayrequestError as exc:
        flash(request, i18n.error_text(exc), "error")
    else:
        flash(
            request,
            i18n.gettext("The flow is on.") if enabled else i18n.gettext("The flow is off."),
        )
    return _see_other(back)


@router.post("/flows/{flow_id}/test")
async def test_run(
    request: Request, user: Owner, runtime: RuntimeDep, flow_id: int
) -> RedirectResponse:
    form = await request.form()
    raw = str(form.get("event_id") or "")
    if not raw.isdigit():
        flash(request, i18n.gettext("Choose an event for the test run."), "error")
        return _see_other(f"/flows/{flow_id}")
    try:
        async with runtime.sessions() as session, session.begin():
            run = await service.test_run(
                session, flow_id=flow_id, event_id=int(raw), actor_id=user.id
            )
            run_id = run.id
    except PayrequestError as exc:
        flash(request, i18n.error_text(exc), "error")
        return _see_other(f"/flows/{flow_id}")
    wake(request)
    flash(request, i18n.gettext("Test run started."))
    return _see_other(f"/flows/runs/{run_id}")
