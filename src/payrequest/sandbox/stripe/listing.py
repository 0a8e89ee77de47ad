"""List objects with cursor pagination, and `expand` (docs/stripe.md#lists-and-expansion).

A list is newest first (line items in the order given) and answers `limit` (1-100, default
10), `starting_after` or `ending_before` (an id in the list); its `url` is the API path the SDK
asks again for the next page. `expand` replaces an id by the object (`payment_intent`,
`latest_charge`, `charge`, dotted paths like `payment_intent.latest_charge`, `data.` in lists)
and adds a session's `line_items`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from payrequest.sandbox.stripe import params as p
from payrequest.sandbox.stripe import render
from payrequest.sandbox.stripe.emulator import Account
from payrequest.sandbox.stripe.errors import invalid, no_such

MAX_DEPTH = 4
PAGE_PARAMS = ("limit", "starting_after", "ending_before", "expand")


def page(
    url: str,
    items: Sequence[Any],
    params: dict[str, Any],
    kind: str,
    render_item: Callable[[Any], dict[str, Any]],
    id_of: Callable[[Any], str] = lambda item: str(item.id),
) -> dict[str, Any]:
    """One page of `items` (already in list order) as a list object."""
    limit = p.integer(params["limit"], "limit", 1, 100) if "limit" in params else 10
    after = p.text(params, "starting_after")
    before = p.text(params, "ending_before")
    if after is not None and before is not None:
        raise invalid(
            "You may only specify one of these parameters: starting_after, ending_before.",
            code="parameters_exclusive",
        )
    ids = [id_of(item) for item in items]
    if after is not None:
        if after not in ids:
            raise no_such(kind, after, "starting_after")
        rest = list(items[ids.index(after) + 1 :])
        chosen, has_more = rest[:limit], len(rest) > limit
    elif before is not None:
        if before not in ids:
            raise no_such(kind, before, "ending_before")
        rest = list(items[: ids.index(before)])
        chosen, has_more = rest[-limit:], len(rest) > limit
    else:
        chosen, has_more = list(items[:limit]), len(items) > limit
    return render.list_object(url, [render_item(item) for item in chosen], has_more)


def newest_first(objects: dict[str, Any]) -> list[Any]:
    return list(reversed(objects.values()))


def expand(account: Account, obj: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """`obj` with every path of `expand` replaced by the full object."""
    for index, path in enumerate(paths):
        parts = path.split(".")
        if len(parts) > MAX_DEPTH:
            raise invalid(
                f"You cannot expand more than {MAX_DEPTH} levels of a property.",
                f"expand[{index}]",
            )
        _expand(account, obj, parts, path, index)
    return obj


def _expand(account: Account, obj: dict[str, Any], parts: list[str], path: str, i: int) -> None:
    head, rest = parts[0], parts[1:]
    if head == "data" and obj.get("object") == "list":
        for item in obj["data"]:
            if rest:
                _expand(account, item, rest, path, i)
        return
    if obj.get("object") == "checkout.session" and head == "line_items":
        obj["line_items"] = line_items(account, obj["id"], {})
        value: Any = obj["line_items"]
    elif head in obj and isinstance(obj[head], str) and head in EXPANDABLE:
        value = _lookup(account, obj[head])
        obj[head] = value
    elif head in obj and isinstance(obj[head], dict):
        value = obj[head]
    elif head in obj and obj[head] is None:
        return
    else:
        raise invalid(f"This property cannot be expanded ({path}).", f"expand[{i}]")
    if rest and isinstance(value, dict):
        _expand(account, value, rest, path, i)


EXPANDABLE = frozenset({"payment_intent", "latest_charge", "charge"})


def _lookup(account: Account, object_id: str) -> dict[str, Any]:
    if object_id.startswith("pi_") and object_id in account.intents:
        return render.payment_intent(account.intents[object_id])
    if object_id.startswith("ch_") and object_id in account.charges:
        return render.charge(account.charges[object_id])
    raise no_such("object", object_id)


def line_items(account: Account, session_id: str, params: dict[str, Any]) -> dict[str, Any]:
    session = account.sessions.get(session_id)
    if session is None:
        raise no_such("checkout.session", session_id)
    return page(
        f"/v1/checkout/sessions/{session.id}/line_items",
        session.line_items,
        params,
        "line_item",
        lambda item: render.line_item(item, session.created),
    )
