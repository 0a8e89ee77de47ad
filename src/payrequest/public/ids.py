"""Public ids: a type prefix and our row id (`cus_42`, `inv_7`), made and read only here.

Clients treat them as opaque strings (docs/api.md, "Ids"); the form may change with a new API
version. A payment is the money one payment request captured (`pay_<request>`) or one manual
payment recorded by staff (`mpay_<manual payment>`)."""

from __future__ import annotations

import re
from typing import Final, Literal

from payrequest.errors import NotFound

Kind = Literal[
    "customer",
    "invoice",
    "payment_request",
    "payment",
    "manual_payment",
    "allocation",
    "refund",
    "credit",
    "event",
    "api_key",
    "webhook_endpoint",
    "webhook_delivery",
]

PREFIXES: Final[dict[Kind, str]] = {
    "customer": "cus",
    "invoice": "inv",
    "payment_request": "pr",
    "payment": "pay",
    "manual_payment": "mpay",
    "allocation": "alc",
    "refund": "re",
    "credit": "cr",
    "event": "evt",
    "api_key": "key",
    "webhook_endpoint": "we",
    "webhook_delivery": "wd",
}
_SHAPE = re.compile(r"^([a-z]+)_([1-9][0-9]{0,9})$")
MAX_ROW_ID = 2**31 - 1  # PostgreSQL's integer: no row has a larger id


def public_id(kind: Kind, number: int) -> str:
    """The public id of row `number` of `kind`."""
    return f"{PREFIXES[kind]}_{number}"


def row_id(kind: Kind, value: str, *, field: str | None = None) -> int:
    """The row id a public id of `kind` names; NotFound (about `field`, the input it came in)
    for anything else, so that a wrong or mistyped id reads like an unknown one."""
    found = read_id(value)
    if found is None or found[0] != kind:
        raise NotFound("No object has the id %(id)s", field=field, id=value)
    return found[1]


def read_id(value: str) -> tuple[Kind, int] | None:
    """The kind and row id of any public id; None when it is none of ours."""
    match = _SHAPE.match(value)
    if match is None:
        return None
    kind = _KINDS.get(match.group(1))
    number = int(match.group(2))
    return None if kind is None or number > MAX_ROW_ID else (kind, number)


_KINDS: Final[dict[str, Kind]] = {prefix: kind for kind, prefix in PREFIXES.items()}
