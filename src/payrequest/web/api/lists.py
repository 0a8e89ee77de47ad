"""Cursor pagination (docs/api.md, "Pagination"): `limit` (1 to 100, default 20) and
`starting_after` (the id of the last object of the page before); an answer is
`{"object": "list", "data": [...], "has_more": true|false}`, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, Literal, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from payrequest.public.ids import Kind, row_id

T = TypeVar("T")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class ListObject(BaseModel, Generic[T]):
    object: Literal["list"] = "list"
    data: list[T]
    has_more: bool


@dataclass(frozen=True, slots=True)
class Cursor:
    """What a page asks for: `limit` objects older than the one `starting_after` names."""

    limit: int
    starting_after: str | None

    def before(self, kind: Kind) -> int | None:
        """The row id the page starts below (NotFound, about `starting_after`, for an id of
        another kind)."""
        if self.starting_after is None:
            return None
        return row_id(kind, self.starting_after, field="starting_after")

    @property
    def fetch(self) -> int:
        """Rows to read: one more than the page, to know whether there are more."""
        return self.limit + 1

    def page(self, rows: Sequence[T]) -> tuple[list[T], bool]:
        """The page's rows of those read (`fetch` of them), and whether more follow."""
        return list(rows[: self.limit]), len(rows) > self.limit


def cursor(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="How many objects, 1 to 100.")
    ] = DEFAULT_LIMIT,
    starting_after: Annotated[
        str | None,
        Query(
            max_length=40,
            description="The id of the last object of the page before (a cursor).",
        ),
    ] = None,
) -> Cursor:
    return Cursor(limit, starting_after)


CursorDep = Annotated[Cursor, Depends(cursor)]
