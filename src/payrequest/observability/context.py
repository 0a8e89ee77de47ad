"""What a log line knows about the work it belongs to: the HTTP request (its id and route
template), the payment reference and the provider's trace id. Context variables, so each
request or job sees only its own; set with `bound(...)`, read by the log filter."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

FIELDS = ("request_id", "route", "reference", "trace_id")

_values: dict[str, ContextVar[str | None]] = {
    name: ContextVar(f"payrequest_log_{name}", default=None) for name in FIELDS
}
# The route template is known only once the router has matched, after the request began: the
# middleware binds a function that looks it up when a line is written.
_route_lookup: ContextVar[Callable[[], str | None] | None] = ContextVar(
    "payrequest_log_route_lookup", default=None
)


@contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    """Within the block, log lines carry these fields (names from FIELDS)."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown log context field(s): {', '.join(sorted(unknown))}")
    tokens: list[tuple[ContextVar[str | None], Token[str | None]]] = [
        (_values[name], _values[name].set(value)) for name, value in fields.items()
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


@contextmanager
def route_from(lookup: Callable[[], str | None]) -> Iterator[None]:
    """Within the block, the `route` field is whatever `lookup()` answers when a line is
    written (the middleware's view of the matched route)."""
    token = _route_lookup.set(lookup)
    try:
        yield
    finally:
        _route_lookup.reset(token)


def current() -> dict[str, str]:
    """The fields known here and now, unknown ones left out."""
    known = {name: value for name, var in _values.items() if (value := var.get()) is not None}
    lookup = _route_lookup.get()
    if "route" not in known and lookup is not None and (route := lookup()) is not None:
        known["route"] = route
    return known
