"""Automation messages in each reader's language: per-language variants next to a message's own
texts, each checked like them; the customer reads their language, staff the default; configs
saved before variants existed keep working."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from payrequest.automations import actions, messages
from payrequest.automations.context import sample_context
from payrequest.errors import ValidationFailed
from payrequest.web import labels

flow_texts = importlib.import_module("payrequest.migrations.versions.20261130_flow_texts")

RECEIPT: dict[str, Any] = {
    "to": "customer",
    "text": "Takk, {{ customer_name }}! Vi har mottatt {{ amount }}.",
    "language": "nb",
    "variants": {
        "da": {"text": "Tak, {{ customer_name }}! Vi har modtaget {{ amount }}."},
        "en": {"text": "Thank you, {{ customer_name }}! We received {{ amount }}."},
    },
}


async def _clean(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    return await actions.clean(kind, config, index=1, allow=(), default_language="nb")


@pytest.mark.parametrize(
    ("kind", "config", "field"),
    [
        ("sms", {**RECEIPT, "variants": {"da": {"text": "Tak {{ kunde }}"}}}, "a1_text_da"),
        ("sms", {**RECEIPT, "variants": {"en": {"text": "Hi {{ amount }"}}}, "a1_text_en"),
        (
            "email",
            {"to": "customer", "subject": "Betaling", "text": "Hei",
             "variants": {"da": {"subject": "", "text": "Hej"}}},
            "a1_subject_da",
        ),
        (
            "portal_link",
            {"channel": "sms", "text": "Se {{ portal_link }}",
             "variants": {"en": {"text": "See your invoices"}}},
            "a1_text_en",
        ),
    ],
)  # fmt: skip
async def test_every_variant_is_checked_like_the_own_texts(
    kind: str, config: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await _clean(kind, config)
    assert caught.value.field == field


async def test_the_customer_reads_their_language_and_staff_the_default() -> None:
    config = await _clean("sms", RECEIPT)
    assert config["language"] == "nb" and set(config["variants"]) == {"da", "en"}
    context = sample_context()
    for customer, expected in (("da", "Tak, Kari"), ("en", "Thank you, Kari"), ("nb", "Takk")):
        language = messages.reader_language("sms", config, customer=customer, default="nb")
        rendered = actions.render("sms", config, context, language=language)
        assert rendered["text"].startswith(expected)
        assert rendered["language"] == customer
    to_staff = {**config, "to": "+4791234567"}
    language = messages.reader_language("sms", to_staff, customer="da", default="en")
    assert language == "en"  # a fixed number reads the installation's default language
    assert actions.render("sms", to_staff, context, language=language)["text"].startswith("Thank")


async def test_a_config_from_before_variants_keeps_working() -> None:
    old = {"to": "customer", "text": "Hei {{ customer_name }}"}
    config = await _clean("sms", old)
    assert config == {**old, "language": "nb", "variants": {}}
    for stored in (old, config):  # a run of a flow saved before, and after
        rendered = actions.render("sms", stored, sample_context(), language="da")
        assert rendered["text"] == "Hei Kari Nordmann"


async def test_an_empty_variant_is_not_kept_and_falls_back() -> None:
    config = await _clean("sms", {**RECEIPT, "variants": {"da": {"text": "  "}}})
    assert config["variants"] == {}
    assert messages.pick("sms", config, "da") == {"text": RECEIPT["text"]}


def test_a_new_action_starts_in_every_language() -> None:
    config = actions.default_config("sms", "da")
    assert config["language"] == "da"
    assert config["text"].startswith("Tak, {{ customer_name }}")
    assert config["variants"]["nb"]["text"].startswith("Takk, {{ customer_name }}")
    assert config["variants"]["en"]["text"].startswith("Thank you, {{ customer_name }}")


async def test_the_editor_shows_the_default_language_first_without_losing_a_text() -> None:
    stored = flow_texts.with_variants(
        flow_texts.RECEIPT, flow_texts.AS_INSERTED[next(iter(flow_texts.AS_INSERTED))]
    )
    assert stored["language"] == "en"
    edited = messages.rebased("sms", stored, "nb")
    assert edited["language"] == "nb" and edited["text"].startswith("Takk")
    assert edited["variants"]["en"]["text"] == stored["text"]
    assert edited["variants"]["da"] == stored["variants"]["da"]
    assert await _clean("sms", edited) == edited


async def test_the_ready_made_flows_texts_pass_the_save_check() -> None:
    for (name, _trigger, kind), config in flow_texts.AS_INSERTED.items():
        with_variants = flow_texts.with_variants(name, config)
        if kind == "email":
            with_variants = {**with_variants, "to": "owner@example.no"}
        cleaned = await _clean(kind, with_variants)
        assert set(cleaned["variants"]) == {"nb", "da"}


def test_every_stored_code_staff_see_has_words() -> None:
    from payrequest.events.names import ALL_EVENTS
    from payrequest.ledger.models import REFUND_STATUSES
    from payrequest.organisations.models import ROLES
    from payrequest.payment_requests.state import ORIGINS
    from payrequest.providers.base import EventName

    for kind, codes in {
        "event": ALL_EVENTS,
        "origin": ORIGINS,
        "refund_status": REFUND_STATUSES,
        "provider_event": [e.value for e in EventName],
        "role": ROLES,
        "action_kind": actions.KINDS,
        "source": ("webhook", "poll", "user", "system"),
    }.items():
        missing = [code for code in codes if code not in labels.LABELS[kind]]
        assert not missing, f"{kind}: no words for {missing} (web/labels.py)"
