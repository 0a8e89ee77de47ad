"""What a customer tag is (customers.tags): typed tags cleaned, bad ones refused naming the
field, and the text field's commas."""

from __future__ import annotations

import pytest

from payrequest.customers.tags import LONGEST, MOST, clean_tag, clean_tags, joined, split_tags
from payrequest.errors import ValidationFailed


@pytest.mark.parametrize(
    ("typed", "tag"),
    [
        ("vip", "vip"),
        ("  VIP ", "vip"),
        ("Fjord   Kunde", "fjord kunde"),
        ("ÆRLIG-Øst_å 2", "ærlig-øst_å 2"),
        ("B2B", "b2b"),
        ("x" * LONGEST, "x" * LONGEST),
    ],
)
def test_a_tag_is_trimmed_and_casefolded(typed: str, tag: str) -> None:
    assert clean_tag(typed) == tag


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * (LONGEST + 1), f"at most {LONGEST} characters"),
        ("vip!", "only letters, digits"),
        ("a/b", "only letters, digits"),
        ("50%", "only letters, digits"),
        ("x²", "only letters, digits"),  # a superscript is no digit
    ],
)
def test_a_bad_tag_is_refused_naming_the_field(typed: str, words: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        clean_tag(typed, field="tag")
    assert caught.value.field == "tag"
    assert words in caught.value.message


def test_tags_are_kept_once_sorted_and_at_most_twenty() -> None:
    assert clean_tags(["VIP", "b2b", " vip "]) == ("b2b", "vip")
    assert clean_tags([]) == ()
    assert len(clean_tags([f"t{i}" for i in range(MOST)])) == MOST
    with pytest.raises(ValidationFailed) as caught:
        clean_tags([f"t{i}" for i in range(MOST + 1)])
    assert caught.value.field == "tags"
    assert "at most 20 tags" in caught.value.message
    with pytest.raises(ValidationFailed) as caught:
        clean_tags(["vip", "no!"])
    assert caught.value.field == "tags"


def test_one_text_field_holds_tags_separated_by_commas() -> None:
    assert split_tags("vip, Fjord kunde,,b2b , ") == ["vip", "Fjord kunde", "b2b"]
    assert split_tags("") == []
    assert joined(("b2b", "vip")) == "b2b, vip"
    assert split_tags(joined(("b2b", "fjord kunde"))) == ["b2b", "fjord kunde"]
