"""The "send a payment request" action's config and the way it reaches a customer: pure."""

from __future__ import annotations

import pytest

from payrequest.automations import requesting
from payrequest.errors import ValidationFailed
from payrequest.providers.base import UserFlow

PHONE, EMAIL = "+4791234567", "kari@example.no"


def _field(key: str) -> str:
    return f"a0_{key}"


def test_an_old_empty_config_means_a_push_with_links_by_sms() -> None:
    assert requesting.clean({}, _field) == {"via": "default", "send": "push", "channel": "sms"}


def test_a_card_payment_is_always_a_link_and_days_are_whole() -> None:
    cleaned = requesting.clean({"via": "card", "send": "push", "lifetime_days": " 7 "}, _field)
    assert cleaned == {"via": "card", "send": "link", "channel": "sms", "lifetime_days": 7}


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"via": "cash"}, "a0_via"),
        ({"send": "fax"}, "a0_send"),
        ({"channel": "post"}, "a0_channel"),
        ({"lifetime_days": "0"}, "a0_lifetime_days"),
        ({"lifetime_days": "61"}, "a0_lifetime_days"),
        ({"lifetime_days": "2.5"}, "a0_lifetime_days"),
    ],
)
def test_bad_values_are_refused_naming_their_field(config: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        requesting.clean(config, _field)
    assert refused.value.field == field


def test_a_push_goes_to_the_known_number() -> None:
    way = requesting.way({"send": "push", "channel": "email"}, phone=PHONE, email=EMAIL)
    assert way == requesting.Way(UserFlow.push, requesting.PUSH, PHONE)


def test_without_a_number_the_link_goes_by_the_other_channel() -> None:
    way = requesting.way({"send": "push", "channel": "sms"}, phone=None, email=EMAIL)
    assert way == requesting.Way(UserFlow.qr, "email", EMAIL)


def test_always_a_link_uses_the_chosen_channel_and_a_card_link_is_a_redirect() -> None:
    link = requesting.way({"send": "link", "channel": "sms"}, phone=PHONE, email=EMAIL)
    assert link == requesting.Way(UserFlow.qr, "sms", PHONE)
    card = requesting.way({"via": "card", "channel": "email"}, phone=PHONE, email=EMAIL)
    assert card == requesting.Way(UserFlow.redirect, "email", EMAIL)


def test_a_customer_who_cannot_be_reached_is_refused() -> None:
    with pytest.raises(ValidationFailed) as refused:
        requesting.way({}, phone=None, email=None)
    assert refused.value.template == (
        "The customer has neither a mobile number nor an email address"
    )
