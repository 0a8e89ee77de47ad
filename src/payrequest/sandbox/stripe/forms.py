"""Stripe's form encoding: bracketed keys into nested objects and arrays.

`metadata[invoice]=1` -> `{"metadata": {"invoice": "1"}}`; indexed arrays
`line_items[0][quantity]=1` and appended ones `expand[]=a` -> lists. Keys arrive already
URL-decoded (the SDK percent-encodes brackets in query strings). Values stay strings; the
operations convert and check them (docs/stripe.md#requests).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from payrequest.sandbox.stripe.errors import invalid

KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
PART = re.compile(r"\[([^\[\]]*)\]")
APPEND = ""  # the part of `name[]`


def decode(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nested parameters from decoded (key, value) pairs, in the order given."""
    tree: dict[str, Any] = {}
    for key, value in pairs:
        match = KEY.fullmatch(key)
        if match is None:
            raise invalid(f"Invalid parameter name: {key}", param=key)
        parts = [match.group(1), *PART.findall(match.group(2))]
        _put(tree, parts, value, key)
    return _arrays(tree)


def _put(tree: dict[str, Any], parts: list[str], value: str, key: str) -> None:
    node = tree
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == APPEND:
            part = f"{len(node)}"
        if last:
            if isinstance(node.get(part), dict):
                raise invalid(f"Invalid parameter: {key} is both a value and an object", key)
            node[part] = value
            return
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise invalid(f"Invalid parameter: {key} is both a value and an object", key)
        node = child


def _arrays(node: dict[str, Any]) -> dict[str, Any]:
    """Turn every object whose keys are all indexes into a list ordered by index."""
    return {name: _array_or_object(value) for name, value in node.items()}


def _array_or_object(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    converted = _arrays(value)
    if converted and all(name.isdigit() for name in converted):
        return [converted[name] for name in sorted(converted, key=int)]
    return converted
