"""What differs between our two databases in the statements we write ourselves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

INSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def insert_for(session: AsyncSession) -> Any:
    """The dialect's INSERT construct, the one that knows ON CONFLICT DO NOTHING."""
    name = session.get_bind().dialect.name
    if name not in INSERTS:
        raise NotImplementedError(f"payrequest does not support the {name!r} database")
    return INSERTS[name]


def per_dialect(build: Callable[[Any], T]) -> Callable[[AsyncSession], T]:
    """A statement built once per database kind, from that dialect's INSERT construct.

    For hot paths: a statement object made once (values bound at execution) is compiled and
    cache-keyed once, instead of on every call."""
    built = {name: build(insert) for name, insert in INSERTS.items()}

    def for_session(session: AsyncSession) -> T:
        return built[session.get_bind().dialect.name]

    return for_session
