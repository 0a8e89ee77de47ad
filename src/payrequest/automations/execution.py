"""Running one action of one flow run, exactly once per (event, flow, action).

Each action is its own job (`automations.run_action`, payload `{flow_run_id, position}`). The job:

1. records the action run in its own committed transaction BEFORE any gateway call: the rendered
   message is stored (portal-link texts sealed, the token is never kept in clear), the status
   becomes `sending`, `attempts` grows;
2. calls the gateway with the idempotency key `flowrun-<id>-action-<pos>`;
3. commits `sent` (with the gateway's answer) in its own transaction as soon as the call returns;
4. marks the action `done` and enqueues the next action (a `wait` action sets its `run_at`) in the
   job's own transaction, which commits together with the job's "done".

A worker dying after 3 leaves `sent`: the retry does not call the gateway again, it only does 4.
A worker dying between 1 and 3 leaves `sending`: the retry cannot know whether the message left,
so it sends the SAME stored message with the SAME key — the sandbox SMS gateway deduplicates on
the key, an email carries the same Message-ID (derived from the key), a webhook the same
`webhook-id` (receivers deduplicate on it). Only that window between the gateway accepting and
step 3 committing can produce a second delivery, always recognisable as the same message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.automations import actions, messages, notices, requesting, templating
from payrequest.automations.context import EventData, event_data, invoices_of
from payrequest.automations.models import ActionRun, Flow, FlowRun
from payrequest.automations.templating import TemplateError
from payrequest.errors import N_, PayrequestError
from payrequest.events.models import OutboxEvent
from payrequest.i18n import kept
from payrequest.jobs import queue
from payrequest.jobs.context import PermanentJobError
from payrequest.kit.clock import Calendar, utcnow
from payrequest.kit.crypto import SecretBox
from payrequest.kit.urls import PublicUrls
from payrequest.notify.email.smtp import EmailSender
from payrequest.notify.errors import NotifyError
from payrequest.notify.sms.base import SmsGateway
from payrequest.notify.webhook.sender import WebhookSender
from payrequest.payment_requests.service import Lifetime
from payrequest.portal.service import issue_link
from payrequest.users.service import list_users

ACTION_JOB = "automations.run_action"
ACTION_MAX_ATTEMPTS = 12  # backoff from the job runner: seconds, then minutes, for hours

log = logging.getLogger(__name__)


@dataclass
class Services:
    sessions: async_sessionmaker[AsyncSession]
    sms: SmsGateway
    email: EmailSender | None
    webhooks: WebhookSender
    box: SecretBox
    urls: PublicUrls
    default_language: str = "nb"  # messages to staff (a fixed number or address) are in it
    # How long a new payment request may wait, through a provider (None: the default one);
    # None here: this installation's automations cannot send payment requests.
    lifetime: Callable[[str | None], Awaitable[Lifetime]] | None = None
    calendar: Calendar = field(default_factory=Calendar)  # the time reminders go by
    card_name: str | None = None  # the provider card payments go through, if any


def idempotency_key(flow_run_id: int, position: int) -> str:
    return f"flowrun-{flow_run_id}-action-{position}"


async def enqueue_action(
    session: AsyncSession,
    *,
    flow_run_id: int,
    position: int,
    delay: timedelta | None = None,
    organisation_id: int | None = None,
) -> None:
    """Queue one action of a run, acting for the run's organisation: `organisation_id`, by
    default the one the session acts for (a session acting for all names it)."""
    await queue.enqueue(
        session,
        kind=ACTION_JOB,
        payload={"flow_run_id": flow_run_id, "position": position},
        dedupe_key=idempotency_key(flow_run_id, position),
        run_at=utcnow() + delay if delay else None,
        max_attempts=ACTION_MAX_ATTEMPTS,
        organisation_id=organisation_id,
    )


async def _action_run(session: AsyncSession, flow_run_id: int, position: int) -> ActionRun | None:
    stmt = select(ActionRun).where(
        ActionRun.flow_run_id == flow_run_id, ActionRun.position == position
    )
    return (await session.scalars(stmt.with_for_update())).one_or_none()


def _fail_run(run: FlowRun, action: ActionRun, message: str) -> None:
    """`message`: a message id where there is one (the run log translates it); which action
    failed is the failed action run's position."""
    now = utcnow()
    action.status = "failed"
    action.last_error = message
    action.finished_at = now
    run.status = "failed"
    run.error = message
    run.finished_at = now


def stored_error(exc: Exception) -> str:
    """What the run log keeps of an error, shown in each reader's language: our own error's
    message id, or with its parameters the kept error (`i18n.kept`); another error's text
    (a template engine's, in English)."""
    if isinstance(exc, PayrequestError):
        return kept.dumps(exc) if exc.params else exc.template
    return getattr(exc, "message", None) or str(exc)


async def _render(
    session: AsyncSession, services: Services, run: FlowRun, action: dict[str, Any]
) -> dict[str, Any]:
    event = await session.get(OutboxEvent, run.outbox_event_id)
    if event is None:
        raise PayrequestError("The event of this run no longer exists")
    data = await event_data(session, event, urls=services.urls)
    kind, config = action["kind"], action["config"]
    language = messages.reader_language(
        kind,
        config,
        customer=data.customer.locale if data.customer is not None else None,
        default=services.default_language,
    )
    if kind == "payment_request":
        return await _request(session, services, event, data, config)
    if kind == "notify_staff":
        rendered = await _letters_to_staff(session, services, config, data.context)
        if data.customer is not None:  # and a note on the customer's card
            await notices.leave(
                session,
                customer_id=data.customer.id,
                flow_run_id=run.id,
                title=rendered["subject"],
                text=rendered["text"],
            )
        return rendered
    if kind != "portal_link":
        return actions.render(kind, config, data.context, language=language)
    if data.customer is None:
        raise PayrequestError("The event has no customer")
    issued = await issue_link(session, customer_id=data.customer.id, channel=config["channel"])
    context = {**data.context, "portal_link": services.urls.portal_link(issued.token)}
    rendered = actions.render(kind, config, context, language=language)
    sealed = services.box.seal(json.dumps(rendered))
    masked = rendered["text"].replace(issued.token, "•" * 8)
    return {**rendered, "text": masked, "sealed": sealed, "portal_link_id": issued.link_id}


async def _request(
    session: AsyncSession,
    services: Services,
    event: OutboxEvent,
    data: EventData,
    config: dict[str, Any],
) -> dict[str, Any]:
    """The payment request for the event's invoices (`requesting.write`)."""
    if services.lifetime is None:
        raise PayrequestError("Payment requests cannot be sent from flows here")
    if data.customer is None:
        raise PayrequestError("The event has no customer")
    invoice_ids = await invoices_of(session, event)
    if not invoice_ids:
        raise PayrequestError("The event names no invoice")
    return await requesting.write(
        session,
        config=config,
        customer=data.customer,
        invoice_ids=invoice_ids,
        lifetime=services.lifetime,
        card_name=services.card_name,
        now=services.calendar.now(),
    )


async def _letters_to_staff(
    session: AsyncSession, services: Services, config: dict[str, Any], context: dict[str, Any]
) -> dict[str, Any]:
    """One email to each active owner and staff member, in their own language (the flow's
    text in it, or the default text); the run log (and the note on the customer's card) shows
    the default language's."""
    team = [m for m in await list_users(session) if m.is_active and m.role in ("owner", "staff")]
    if not team:
        raise PayrequestError("The organisation has no active owner or staff member")
    letters = []
    for member in team:
        texts = messages.pick("notify_staff", config, member.locale)
        letters.append(
            {
                "to": member.email,
                "subject": templating.render(texts["subject"], context).strip(),
                "text": templating.render(texts["text"], context),
            }
        )
    shown = messages.pick("notify_staff", config, None)
    return {
        "to": ", ".join(letter["to"] for letter in letters),
        "subject": templating.render(shown["subject"], context).strip(),
        "text": templating.render(shown["text"], context),
        "language": messages.language_of(config, services.default_language),
        "letters": letters,
    }


async def _deliver(
    services: Services, kind: str, rendered: dict[str, Any], key: str, secret: str | None
) -> dict[str, Any]:
    if kind == "portal_link":
        rendered = {**json.loads(services.box.open(rendered["sealed"])), "kind": "portal_link"}
        kind = rendered["channel"]
    if kind == "sms":
        sms = await services.sms.send(to=rendered["to"], text=rendered["text"], idempotency_key=key)
        return {"gateway": sms.gateway, "message_id": sms.message_id}
    if kind == "email":
        if services.email is None:
            raise NotifyError(N_("Email is switched off: no SMTP server configured"), False)
        mail = await services.email.send(
            to=rendered["to"],
            subject=rendered["subject"] or "-",
            text=rendered["text"],
            html=rendered.get("html"),
            idempotency_key=key,
        )
        return {"message_id": mail.message_id, "response": mail.response}
    if kind == "webhook":
        if not secret:
            raise NotifyError(N_("The flow has no webhook secret"), False)
        hook = await services.webhooks.send(
            url=rendered["url"], body=rendered["body"], secret=secret, msg_id=key
        )
        return {"status": hook.status_code, "webhook_id": hook.msg_id, "answer": hook.body}
    if kind == "notify_staff":
        if services.email is None:
            raise NotifyError(N_("Email is switched off: no SMTP server configured"), False)
        for n, letter in enumerate(rendered["letters"]):
            await services.email.send(
                to=letter["to"],
                subject=letter["subject"] or "-",
                text=letter["text"],
                idempotency_key=f"{key}-{n}",
            )
        return {"letters": len(rendered["letters"])}
    if kind == "payment_request":  # a push: its send job reaches the provider; else the link
        return await requesting.deliver(
            services.sessions, services.sms, services.email, rendered, key
        )
    return {}  # wait: nothing to deliver


async def perform(
    services: Services,
    session: AsyncSession,
    *,
    flow_run_id: int,
    position: int,
    last_attempt: bool = False,
) -> None:
    """Run one action; `session` is the job's transaction (step 4 commits with it)."""
    key = idempotency_key(flow_run_id, position)
    failure: str | None = None
    async with services.sessions() as own, own.begin():  # step 1
        run = await own.get(FlowRun, flow_run_id, with_for_update=True)
        if run is None or position >= len(run.actions):
            return
        action = run.actions[position]
        record = await _action_run(own, flow_run_id, position)
        if record is None:
            record = ActionRun(
                organisation_id=run.organisation_id,  # the job acts for it (db.scope)
                flow_run_id=flow_run_id, position=position, kind=action["kind"],
                status="pending", attempts=0, idempotency_key=key,
            )  # fmt: skip
            own.add(record)
            await own.flush()
        phase = record.status if record.status in ("done", "sent") else "send"
        if phase == "send":
            if record.rendered is None:
                try:
                    record.rendered = await _render(own, services, run, action)
                except (PayrequestError, TemplateError, KeyError, ValueError) as exc:
                    failure = getattr(exc, "message", None) or str(exc)  # the job's, in English
                    record.attempts += 1
                    _fail_run(run, record, stored_error(exc))
            if failure is None:
                record.status = "sending"
                record.attempts += 1
                record.last_error = None
        rendered = dict(record.rendered or {})
        kind = record.kind
        flow = await own.get(Flow, run.flow_id)
        sealed_secret = flow.webhook_secret if flow is not None else None
    if failure is not None:
        raise PermanentJobError(failure)
    if phase == "send":  # steps 2 and 3
        secret = services.box.open(sealed_secret) if sealed_secret else None
        try:
            result = await _deliver(services, kind, rendered, key, secret)
        except NotifyError as exc:
            await _record_error(services, flow_run_id, position, exc, last_attempt)
            if not exc.retryable:
                raise PermanentJobError(exc.message) from exc
            raise
        async with services.sessions() as own, own.begin():
            record = await _action_run(own, flow_run_id, position)
            if record is not None and record.status == "sending":
                record.status = "sent"
                record.result = result
                record.sent_at = utcnow()
    await _finish(session, flow_run_id, position)  # step 4


async def _record_error(
    services: Services, flow_run_id: int, position: int, exc: NotifyError, last_attempt: bool
) -> None:
    async with services.sessions() as own, own.begin():
        run = await own.get(FlowRun, flow_run_id, with_for_update=True)
        record = await _action_run(own, flow_run_id, position)
        if run is None or record is None:
            return
        if not exc.retryable or last_attempt:
            _fail_run(run, record, exc.message)
        else:
            # `sending` when it may have gone out (the retry resends with the same key).
            record.status = "sending" if exc.maybe_sent else "retrying"
            record.last_error = exc.message


async def _finish(session: AsyncSession, flow_run_id: int, position: int) -> None:
    run = await session.get(FlowRun, flow_run_id, with_for_update=True)
    record = await _action_run(session, flow_run_id, position)
    if run is None or record is None:
        return
    now = utcnow()
    if record.status != "done":
        record.status = "done"
        record.finished_at = now
    following = position + 1
    if following < len(run.actions):
        action = run.actions[position]
        delay = (
            timedelta(minutes=int(action["config"]["minutes"]))
            if action["kind"] == "wait"
            else None
        )
        await enqueue_action(
            session,
            flow_run_id=flow_run_id,
            position=following,
            delay=delay,
            organisation_id=run.organisation_id,
        )
    elif run.status == "running":
        run.status = "done"
        run.finished_at = now
