"""Time in one place: always timezone-aware UTC."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Treat a naive datetime (as SQLite returns them) as UTC; convert aware ones to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class Calendar:
    """The clock reminders keep (automations.schedule): the real one, or in sandbox mode the
    emulator's, which a tester moves forward (`POST /sandbox/vipps/clock/advance`) to watch a
    ladder of reminders run in a minute. One object, followed where it is read."""

    def __init__(self) -> None:
        self._source: Callable[[], datetime] = utcnow

    def follow(self, source: Callable[[], datetime]) -> None:
        self._source = source

    def now(self) -> datetime:
        return as_utc(self._source())
