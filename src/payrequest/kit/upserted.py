"""What an upsert did: the row, and whether it was created or changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Upserted(Generic[T]):
    """`row` as it is now; `created`: it did not exist; `changed`: created or updated (False:
    the same data again, nothing was written, announced or recorded in the audit log)."""

    row: T
    created: bool
    changed: bool
