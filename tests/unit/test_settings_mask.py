"""`mask()`: how a secret may appear on the Settings page."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from payrequest.web.admin.settings import MASK, env_name, mask


def test_long_secret_shows_four_characters_and_the_mask() -> None:
    assert mask("abcd1234efgh5678") == "abcd" + MASK


def test_secret_str_is_unwrapped_but_never_shown_in_full() -> None:
    secret = SecretStr("0123456789abcdef0123")
    shown = mask(secret)
    assert shown == "0123" + MASK
    assert "0123456789abcdef0123" not in shown


@pytest.mark.parametrize("value", ["a", "abcd", "abcde", "abcdefghijk"])
def test_short_secret_shows_only_the_mask(value: str) -> None:
    assert mask(value) == MASK


def test_twelve_characters_is_the_shortest_that_shows_a_prefix() -> None:
    assert mask("abcdefghijkl") == "abcd" + MASK


@pytest.mark.parametrize("value", [None, "", SecretStr("")])
def test_unset_secret_is_empty(value: str | SecretStr | None) -> None:
    assert mask(value) == ""


@pytest.mark.parametrize("length", range(1, 80))
def test_never_more_than_a_third_is_revealed(length: int) -> None:
    value = "s" * length
    revealed = mask(value).removesuffix(MASK)
    assert value.startswith(revealed)
    assert len(revealed) * 3 <= length


def test_env_names() -> None:
    assert env_name("vipps", "client_id") == "PAYREQUEST_VIPPS__CLIENT_ID"
    assert env_name("provider_mode") == "PAYREQUEST_PROVIDER_MODE"
