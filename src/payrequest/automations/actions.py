"""The action kinds: what each one's config holds, how it is checked when a flow is saved,
and how it is rendered against an event's context when it runs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from payrequest.automations import templating
from payrequest.automations.context import sample_context
from payrequest.automations.destinations import check_url
from payrequest.errors import N_, ValidationFailed
from payrequest.kit.phone import parse_phone

KINDS = ("sms", "email", "webhook", "wait", "portal_link")
CUSTOMER = "customer"  # `to` value: the event's customer
MAX_WAIT_MINUTES = 60 * 24 * 30
_EMAIL = re.compile(r"^[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\]+\.[^@\s]+$")

DEFAULTS: dict[str, dict[str, Any]] = {
    "sms": {"to": CUSTOMER, "text": "Thank you, {{ customer_name }}! We received {{ amount }}."},
    "email": {
        "to": CUSTOMER,
        "subject": "Payment {{ reference }}",
        "text": "Hello {{ customer_name }},\n\n{{ amount }} for {{ invoice_numbers }}.",
        "html": "",
    },
    "webhook": {"url": "https://"},
    "wait": {"minutes": 10},
    "portal_link": {
        "channel": "sms",
        "subject": "Your invoices",
        "text": "Hello {{ customer_name }}, see and pay your invoices: {{ portal_link }}",
    },
}


def _str(config: dict[str, Any], key: str) -> str:
    value = config.get(key, "")
    return value.strip() if isinstance(value, str) else str(value)


async def clean(
    kind: str, config: dict[str, Any], *, index: int, allow: Iterable[str]
) -> dict[str, Any]:
    """The config as stored; raises ValidationFailed with field `a<index>_<key>`."""

    def fail(key: str, message: str, **params: Any) -> ValidationFailed:
        field = f"a{index}_{key}"
        return ValidationFailed(message, field=field, **params)

    def template(key: str, *, required: bool = True, html: bool = False, link: bool = False) -> str:
        source = config.get(key) or ""
        if not isinstance(source, str):
            raise fail(key, N_("Text expected"))
        if required and not source.strip():
            raise fail(key, N_("Required"))
        try:
            templating.check(source, sample_context(portal_link=link), field=key, html=html)
        except ValidationFailed as exc:
            raise fail(key, exc.template, **exc.params) from None
        return source

    if kind == "sms":
        to = _str(config, "to")
        if not to:
            raise fail("to", N_("Enter 'customer' or a mobile number"))
        if to != CUSTOMER:
            try:
                to = parse_phone(to).e164
            except ValidationFailed as exc:
                raise fail("to", exc.template, **exc.params) from None
        return {"to": to, "text": template("text")}
    if kind == "email":
        to = _str(config, "to")
        if to != CUSTOMER and not _EMAIL.match(to):
            raise fail("to", N_("Enter an email address, or 'customer'"))
        return {
            "to": to,
            "subject": template("subject"),
            "text": template("text"),
            "html": template("html", required=False, html=True),
        }
    if kind == "webhook":
        url = _str(config, "url")
        try:
            await check_url(url, allow=allow)
        except ValidationFailed as exc:
            raise fail("url", exc.template, **exc.params) from None
        return {"url": url}
    if kind == "wait":
        try:
            minutes = int(str(config.get("minutes", "")).strip())
        except ValueError:
            raise fail("minutes", N_("Enter whole minutes")) from None
        if not 1 <= minutes <= MAX_WAIT_MINUTES:
            raise fail("minutes", N_("Between 1 and %(most)s minutes"), most=MAX_WAIT_MINUTES)
        return {"minutes": minutes}
    if kind == "portal_link":
        channel = _str(config, "channel")
        if channel not in ("sms", "email"):
            raise fail("channel", N_("Choose SMS or email"))
        text = template("text", link=True)
        if "portal_link" not in text:
            raise fail("text", N_("The text must contain {{ portal_link }}"))
        subject = template("subject", required=channel == "email", link=True)
        return {"channel": channel, "text": text, "subject": subject}
    field = f"a{index}_kind"
    raise ValidationFailed("Unknown action “%(kind)s”", field=field, kind=kind)


def recipient(to: str, context: dict[str, Any], *, channel: str) -> str:
    if to != CUSTOMER:
        return to
    value = str(context.get("customer_phone" if channel == "sms" else "customer_email") or "")
    if not value:
        if channel == "sms":
            raise ValidationFailed("The customer has no mobile number")
        raise ValidationFailed("The customer has no email address")
    return value


def render(kind: str, config: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """What will be sent, as shown in the run log. Raises TemplateError/ValidationFailed."""
    if kind == "sms":
        return {
            "to": recipient(config["to"], context, channel="sms"),
            "text": templating.render(config["text"], context),
        }
    if kind == "email":
        html = config.get("html") or ""
        return {
            "to": recipient(config["to"], context, channel="email"),
            "subject": templating.render(config["subject"], context).strip(),
            "text": templating.render(config["text"], context),
            "html": templating.render(html, context, html=True) if html.strip() else None,
        }
    if kind == "webhook":
        data = {k: v for k, v in context.items() if k not in ("portal_link",)}
        body = {
            "type": context.get("event_name"),
            "timestamp": context.get("occurred_at"),
            "data": data,
        }
        return {"url": config["url"], "body": json.dumps(body, ensure_ascii=False, sort_keys=True)}
    if kind == "wait":
        return {"minutes": int(config["minutes"])}
    if kind == "portal_link":
        channel = config["channel"]
        return {
            "channel": channel,
            "to": recipient(CUSTOMER, context, channel=channel),
            "subject": templating.render(config.get("subject") or "", context).strip(),
            "text": templating.render(config["text"], context),
        }
    raise ValueError(f"unknown action kind {kind!r}")
