"""The texts of message actions (SMS, email, portal link) in each customer's language.

A message action's config keeps its texts (`text`, and `subject`/`html` where the kind has them)
in one language, `language` (the installation's default language when the flow was saved; an
old config without it is taken to be in the default language), and optional `variants`:
`{"da": {"text": ..., "subject": ...}, "en": {...}}`, one per other language that has its own
texts. When the action runs, a message to the event's customer is written in the customer's
language if a variant exists for it, else in the config's own; a message to a fixed number or
address (staff) is written in the installation's default language the same way.
"""

from __future__ import annotations

from typing import Any

from payrequest.errors import N_
from payrequest.i18n import LANGUAGES, gettext

CUSTOMER = "customer"  # `to` value: the event's customer
MESSAGE_KEYS: dict[str, tuple[str, ...]] = {
    "sms": ("text",),
    "email": ("subject", "text", "html"),
    "portal_link": ("subject", "text"),
    "notify_staff": ("subject", "text"),
}
# What a new action holds, in each language (message ids with template variables).
_DEFAULT_TEXTS: dict[str, dict[str, str]] = {
    "sms": {"text": N_("Thank you, {{ customer_name }}! We received {{ amount }}.")},
    "email": {
        "subject": N_("Payment {{ reference }}"),
        "text": N_("Hello {{ customer_name }},\n\n{{ amount }} for {{ invoice_numbers }}."),
        "html": "",
    },
    "notify_staff": {
        "subject": N_("About {{ customer_name }}"),
        "text": N_(
            "{{ customer_name }} ({{ customer_number }}): invoice {{ invoice_numbers }}, "
            "{{ amount }}, due {{ due_date }}."
        ),
    },
    "portal_link": {
        "subject": N_("Your invoices"),
        "text": N_("Hello {{ customer_name }}, see and pay your invoices: {{ portal_link }}"),
    },
}


def others(language: str) -> list[str]:
    """The languages besides `language`, in a fixed order."""
    return [code for code in LANGUAGES if code != language]


def default_texts(kind: str, language: str) -> dict[str, Any]:
    """A new action's texts: `language`'s as its own, the other languages as variants."""
    texts = _DEFAULT_TEXTS.get(kind)
    if texts is None:
        return {}
    return in_every_language(texts, language)


def in_every_language(texts: dict[str, str], language: str) -> dict[str, Any]:
    """An action's texts from English message ids: `language`'s as its own, the other
    languages as variants (each from the catalogue)."""

    def written(code: str) -> dict[str, str]:
        return {key: gettext(code, text) if text else "" for key, text in texts.items()}

    return {
        **written(language),
        "language": language,
        "variants": {code: written(code) for code in others(language)},
    }


def language_of(config: dict[str, Any], default: str) -> str:
    """The language of the config's own texts."""
    language = config.get("language")
    return language if isinstance(language, str) and language in LANGUAGES else default


def variant(config: dict[str, Any], language: str) -> dict[str, Any] | None:
    found = (config.get("variants") or {}).get(language)
    return found if isinstance(found, dict) else None


def pick(kind: str, config: dict[str, Any], language: str | None) -> dict[str, str]:
    """The texts a reader of `language` gets: that language's variant, else the config's own."""
    chosen = variant(config, language) if language else None
    source = chosen if chosen is not None and str(chosen.get("text") or "").strip() else config
    return {key: str(source.get(key) or "") for key in MESSAGE_KEYS.get(kind, ())}


def reader_language(
    kind: str, config: dict[str, Any], *, customer: str | None, default: str
) -> str:
    """The language a message is written in: the customer's when it goes to the event's
    customer, otherwise (a fixed number or address) the installation's default."""
    to_customer = kind == "portal_link" or config.get("to") == CUSTOMER
    return customer if to_customer and customer in LANGUAGES else default


def rebased(kind: str, config: dict[str, Any], language: str) -> dict[str, Any]:
    """The same texts with `language`'s as the config's own (for the editor, whose first
    field is the default language). The former own texts become that language's variant;
    if `language` had no variant, its field starts from the former own texts."""
    keys = MESSAGE_KEYS.get(kind)
    current = language_of(config, language)
    if keys is None or current == language:
        return {**config, "language": language} if keys else dict(config)
    variants = {
        code: dict(texts)
        for code, texts in (config.get("variants") or {}).items()
        if isinstance(texts, dict)
    }
    own = {key: config.get(key) or "" for key in keys}
    new_own = variants.pop(language, None) or own
    variants[current] = own
    texts = {key: new_own.get(key) or "" for key in keys}
    return {**config, **texts, "language": language, "variants": variants}
