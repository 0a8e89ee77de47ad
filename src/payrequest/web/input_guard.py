"""Input no handler should ever see, refused before any handler runs (issue 13, "Never a 5xx
for bad input"):

- a whole-number id in the path outside 1..MAX_ID (the databases' id columns are 32-bit on
  PostgreSQL, 64-bit on SQLite), or another whole number outside 0..MAX_ID (a position):
  404, as for any id that names nothing;
- a whole number in the query (`page`, a `..._id` filter) outside -MAX_ID..MAX_ID: 422, and
  so is an id of a form or JSON field (`invoice_ids`, `customer_id`) out of that range;
- a control character (NUL and the like; tab, line feed and carriage return are text) in the
  path, the query, a form field or a string of a JSON body: 422, saying so in the reader's
  language. PostgreSQL refuses NUL in text, and no person types the others;
- a field longer than it can be (an email address or a contact over 254 characters, any text
  over MAX_TEXT): 422, saying so. The forms' own rules check the usual lengths; this bounds
  what reaches them (a sign-in email of 100,000 characters is not looked up).

`install(app)` adds `refuse_bad_input` as a dependency of every route the app includes after
it, so new routes are covered. The webhook (`/webhooks/...`) is not checked here: an
authentic event is always acknowledged (web/webhooks.py), whatever it holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from payrequest.errors import N_, ValidationFailed

MAX_ID = 2**31 - 1  # PostgreSQL's integer; ids are never larger
# The smallest whole number a path may hold: ids start at 1, a position (an action's place in
# a flow run) at 0.
_FIRST_ALLOWED = {True: 1, False: 0}
_INTEGER = re.compile(r"\s*[+-]?\d+\s*")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
UNCHECKED_PREFIXES = ("/webhooks/",)
# Characters one field may hold: an email address (RFC 5321) cannot be longer; a phone field
# gets as much, so that its own check can say "does not look like a phone number". No text a
# person types here is near MAX_TEXT (a flow's message is a few KB).
FIELD_LIMITS = {"email": 254, "contact": 254, "phone": 254}
MAX_TEXT = 20_000
NO_SUCH = N_("Something chosen in the form does not exist. Reload the page and try again.")
TOO_LONG = N_("A field is longer than %(limit)s characters. Shorten it and try again.")
CONTROL_CHARACTER = N_(
    "The text contains a character that is not allowed (an invisible control character). "
    "Remove it and try again."
)


def _int_fields(fields: list[Any]) -> set[str]:
    """Names (as sent: the alias) of parameters typed as a whole number."""
    names = set()
    for field in fields:
        annotation = getattr(field.field_info, "annotation", None)
        if annotation is int or int in getattr(annotation, "__args__", ()):
            names.add(field.alias)
    return names


def _is_integer(value: str) -> bool:
    return bool(_INTEGER.fullmatch(value))


def _names_ids(name: str) -> bool:
    """A field holding ids: `customer_id`, `invoice_ids`, `id`."""
    return name in ("id", "ids") or name.endswith(("_id", "_ids"))


def _out_of_range(value: str) -> bool:
    return _is_integer(value) and abs(int(value)) > MAX_ID


def _check_text(pairs: Iterable[tuple[str, str]]) -> None:
    """Each (name, value): no control character, not longer than its limit."""
    for name, value in pairs:
        if _CONTROL.search(name) or _CONTROL.search(value):
            raise ValidationFailed(CONTROL_CHARACTER, code="control_character")
        limit = FIELD_LIMITS.get(name, MAX_TEXT)
        if len(value) > limit:
            raise ValidationFailed(TOO_LONG, code="too_long", field=name, limit=str(limit))
        if _names_ids(name) and _out_of_range(value):
            raise ValidationFailed(NO_SUCH, code="no_such_id", field=name)


def _json_pairs(data: Any) -> Iterator[tuple[str, str]]:
    """(name, text) of every string in a JSON document, keys included; without recursion
    (a document may nest a thousand levels deep)."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        name, item = stack.pop()
        if isinstance(item, str):
            yield name, item
        elif isinstance(item, dict):
            for key, value in item.items():
                yield "", str(key)
                stack.append((str(key), value))
        elif isinstance(item, list):
            stack.extend((name, value) for value in item)


async def refuse_bad_input(request: Request) -> None:
    """Refuse out-of-range ids and numbers, and control characters (see the module)."""
    if request.url.path.startswith(UNCHECKED_PREFIXES):
        return
    route = request.scope.get("route")
    dependant = route.dependant if isinstance(route, APIRoute) else None
    path_ints = _int_fields(dependant.path_params) if dependant else set()
    query_ints = _int_fields(dependant.query_params) if dependant else set()
    for name, value in request.path_params.items():
        numeric = isinstance(value, str) and name in path_ints and _is_integer(value)
        if numeric and not _FIRST_ALLOWED[_names_ids(name)] <= int(value) <= MAX_ID:
            raise HTTPException(404)
    for name, value in request.query_params.multi_items():
        if (name in query_ints or _names_ids(name)) and _out_of_range(value):
            raise HTTPException(422)
    _check_text((name, str(value)) for name, value in request.path_params.items())
    _check_text(request.query_params.multi_items())
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    await _check_body(request)


async def _check_body(request: Request) -> None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in _FORM_TYPES:
        form = await request.form()  # kept by the request: handlers read the same form
        _check_text((name, value) for name, value in form.multi_items() if isinstance(value, str))
    elif content_type == "application/json" or content_type.endswith("+json"):
        body = await request.body()
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return  # not JSON we can read: the handler's own parsing refuses it
        _check_text(_json_pairs(data))


def install(app: FastAPI) -> None:
    """Guard every route included after this call."""
    app.router.dependencies.append(Depends(refuse_bad_input))
