"""What a customer tag is (a word staff put on customers: `vip`, `fjord kunde`, `b2b`) and how
typed tags are read: pure functions, no database.

A tag is trimmed, its inner runs of spaces made one, and casefolded (`VIP` and ` vip ` are the
same tag `vip`); it has 1 to `LONGEST` characters, each a letter (any alphabet: æ, ø, å), a
digit, a space, `-` or `_`. A customer has at most `MOST` tags; the same tag twice is kept once.
"""

from __future__ import annotations

from collections.abc import Iterable

from payrequest.errors import ValidationFailed

LONGEST = 32
MOST = 20
# What separates tags typed in one text field (the admin's form, a CSV cell).
SEPARATOR = ","
_PUNCTUATION = frozenset(" -_")


def normalised(raw: str) -> str:
    """`raw` trimmed, inner spaces made one, casefolded; not checked (a filter's value)."""
    return " ".join(raw.split()).casefold()


def _allowed(ch: str) -> bool:
    return ch.isalpha() or ch.isdecimal() or ch in _PUNCTUATION


def clean_tag(raw: str, *, field: str = "tags") -> str:
    """The tag `raw` stands for; ValidationFailed naming `field` when it is not one."""
    tag = normalised(raw)
    if not tag:
        raise ValidationFailed("A tag cannot be empty", field=field)
    if len(tag) > LONGEST:
        raise ValidationFailed(
            "A tag may have at most %(most)s characters: “%(tag)s”",
            field=field,
            most=LONGEST,
            tag=tag,
        )
    if not all(_allowed(ch) for ch in tag):
        raise ValidationFailed(
            "A tag may hold only letters, digits, spaces, - and _: “%(tag)s”",
            field=field,
            tag=tag,
        )
    return tag


def clean_tags(raw: Iterable[str], *, field: str = "tags") -> tuple[str, ...]:
    """The tags `raw` stands for, each once, sorted; ValidationFailed naming `field` for a bad
    tag or more than `MOST`."""
    tags = tuple(sorted({clean_tag(item, field=field) for item in raw}))
    if len(tags) > MOST:
        raise ValidationFailed("A customer may have at most %(most)s tags", field=field, most=MOST)
    return tags


def split_tags(text: str) -> list[str]:
    """The tags typed in one text field, separated by commas; empty pieces (`vip, , b2b,`)
    are left out. Not checked: `clean_tags` does that."""
    return [piece for piece in (p.strip() for p in text.split(SEPARATOR)) if piece]


def joined(tags: Iterable[str]) -> str:
    """Tags as one text field shows them: `b2b, vip`."""
    return f"{SEPARATOR} ".join(tags)
