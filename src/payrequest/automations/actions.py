"""The action kinds: what each one's config holds, how it is checked when a flow is saved,
and how it is rendered against an event's context when it runs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from payrequest.automations import messages, requesting, templating
from payrequest.automations.context import sample_context
from payrequest.errors import N_, ValidationFailed
from payrequest.kit.phone import parse_phone
from payrequest.notify.webhook.destinations import check_url

CUSTOMER = messages.CUSTOMER

KINDS = ("sms", "email", "webhook", "wait", "portal_link", "payment_request", "notify_staff")
MAX_WAIT_MINUTES = 60 * 24 * 30
_EMAIL = re.compile(r"^[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\]+\.[^@\s]+$")


def default_config(kind: str, language: str) -> dict[str, Any]:
    """What a newly added action holds; message texts in every language, `language`'s first."""
    if kind == "webhook":
        return {"url": "https://"}
    if kind == "wait":
        return {"minutes": 10}
    if kind == "payment_request":  # a push to the customer's phone, for what is open
        return requesting.clean({}, str)
    start: dict[str, Any] = {"channel": "sms"} if kind == "portal_link" else {"to": CUSTOMER}
    return {**start, **messages.default_texts(kind, language)}


def _str(config: dict[str, Any], key: str) -> str:
    value = config.get(key, "")
    return value.strip() if isinstance(value, str) else str(value)


class _Checker:
    """Checks one action's fields; errors name the form field `a<index>_<key>[_<language>]`."""

    def __init__(self, config: dict[str, Any], index: int) -> None:
        self.config = config
        self.index = index

    def fail(self, key: str, message: str, **params: Any) -> ValidationFailed:
        field = f"a{self.index}_{key}"
        return ValidationFailed(message, field=field, **params)

    def template(
        self,
        key: str,
        *,
        required: bool = True,
        html: bool = False,
        link: bool = False,
        language: str | None = None,
    ) -> str:
        texts = self.config if language is None else messages.variant(self.config, language) or {}
        field = key if language is None else f"{key}_{language}"
        source = texts.get(key) or ""
        if not isinstance(source, str):
            raise self.fail(field, N_("Text expected"))
        if required and not source.strip():
            raise self.fail(field, N_("Required"))
        if link and key == "text" and source.strip() and "portal_link" not in source:
            raise self.fail(field, N_("The text must contain {{ portal_link }}"))
        try:
            templating.check(source, sample_context(portal_link=link), field=key, html=html)
        except ValidationFailed as exc:
            raise self.fail(field, exc.template, **exc.params) from None
        return source

    def texts(self, kind: str, *, default_language: str, channel: str = "") -> dict[str, Any]:
        """The message texts in the config's language and every variant, each checked."""
        own = messages.language_of(self.config, default_language)
        cleaned: dict[str, Any] = {**self._texts(kind, None, channel), "language": own}
        variants: dict[str, dict[str, str]] = {}
        for language in messages.others(own):
            given = messages.variant(self.config, language) or {}
            if any(str(given.get(key) or "").strip() for key in messages.MESSAGE_KEYS[kind]):
                variants[language] = self._texts(kind, language, channel)
        cleaned["variants"] = variants
        return cleaned

    def _texts(self, kind: str, language: str | None, channel: str) -> dict[str, str]:
        if kind == "sms":
            return {"text": self.template("text", language=language)}
        if kind == "notify_staff":
            return {
                "subject": self.template("subject", language=language),
                "text": self.template("text", language=language),
            }
        if kind == "email":
            return {
                "subject": self.template("subject", language=language),
                "text": self.template("text", language=language),
                "html": self.template("html", required=False, html=True, language=language),
            }
        return {  # portal_link
            "text": self.template("text", link=True, language=language),
            "subject": self.template(
                "subject", required=channel == "email", link=True, language=language
            ),
        }


async def clean(
    kind: str,
    config: dict[str, Any],
    *,
    index: int,
    allow: Iterable[str],
    default_language: str = "nb",
) -> dict[str, Any]:
    """The config as stored; raises ValidationFailed with field `a<index>_<key>` (a variant's
    field: `a<index>_<key>_<language>`). `default_language`: the language of texts saved
    without one."""
    check = _Checker(config, index)
    if kind == "sms":
        to = _str(config, "to")
        if not to:
            raise check.fail("to", N_("Enter a mobile number, or choose the customer"))
        if to != CUSTOMER:
            try:
                to = parse_phone(to).e164
            except ValidationFailed as exc:
                raise check.fail("to", exc.template, **exc.params) from None
        return {"to": to, **check.texts(kind, default_language=default_language)}
    if kind == "email":
        to = _str(config, "to")
        if to != CUSTOMER and not _EMAIL.match(to):
            raise check.fail("to", N_("Enter an email address, or choose the customer"))
        return {"to": to, **check.texts(kind, default_language=default_language)}
    if kind == "webhook":
        url = _str(config, "url")
        try:
            await check_url(url, allow=allow)
        except ValidationFailed as exc:
            raise check.fail("url", exc.template, **exc.params) from None
        return {"url": url}
    if kind == "wait":
        try:
            minutes = int(str(config.get("minutes", "")).strip())
        except ValueError:
            raise check.fail("minutes", N_("Enter whole minutes")) from None
        if not 1 <= minutes <= MAX_WAIT_MINUTES:
            raise check.fail("minutes", N_("Between 1 and %(most)s minutes"), most=MAX_WAIT_MINUTES)
        return {"minutes": minutes}
    if kind == "portal_link":
        channel = _str(config, "channel")
        if channel not in ("sms", "email"):
            raise check.fail("channel", N_("Choose SMS or email"))
        texts = check.texts(kind, default_language=default_language, channel=channel)
        return {"channel": channel, **texts}
    if kind == "payment_request":
        return requesting.clean(config, lambda key: f"a{index}_{key}")
    if kind == "notify_staff":
        return check.texts(kind, default_language=default_language)
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


def render(
    kind: str, config: dict[str, Any], context: dict[str, Any], *, language: str | None = None
) -> dict[str, Any]:
    """What will be sent, as shown in the run log; a message in `language`'s variant if the
    config has one (see `messages`). Raises TemplateError/ValidationFailed."""
    texts = messages.pick(kind, config, language)
    written = {"language": language} if language and kind in messages.MESSAGE_KEYS else {}
    if kind == "sms":
        return {
            "to": recipient(config["to"], context, channel="sms"),
            "text": templating.render(texts["text"], context),
            **written,
        }
    if kind == "email":
        html = texts["html"]
        return {
            "to": recipient(config["to"], context, channel="email"),
            "subject": templating.render(texts["subject"], context).strip(),
            "text": templating.render(texts["text"], context),
            "html": templating.render(html, context, html=True) if html.strip() else None,
            **written,
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
            "subject": templating.render(texts["subject"], context).strip(),
            "text": templating.render(texts["text"], context),
            **written,
        }
    if kind == "payment_request":
        return requesting.describe(config, context)
    if kind == "notify_staff":  # to each staff member in their language; shown in `language`'s
        return {
            "subject": templating.render(texts["subject"], context).strip(),
            "text": templating.render(texts["text"], context),
            **written,
        }
    raise ValueError(f"unknown action kind {kind!r}")
