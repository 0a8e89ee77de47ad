"""Announcements: outbox events a domain command collects while it works and records at the
end, in the caller's transaction (one loop, one INSERT at the next flush)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.events import outbox


@dataclass(frozen=True, slots=True)
class Announcement:
    """An outbox event to record once the command is done. Amounts in the payload are minor
    units with their currency beside them."""

    name: str
    aggregate_type: str
    aggregate_id: int
    payload: dict[str, Any]


async def announce(
    session: AsyncSession, announcements: Iterable[Announcement], *, customer_id: int
) -> None:
    for announcement in announcements:
        await outbox.record(
            session,
            name=announcement.name,
            aggregate_type=announcement.aggregate_type,
            aggregate_id=announcement.aggregate_id,
            customer_id=customer_id,
            payload=announcement.payload,
        )
