"""The emulator's clock: real UTC time plus a test offset, with a speed-up for durations.

Timestamps the emulator reports stay real (plus `offset`), so they line up with the client's
clock. The speed-up shrinks *durations* instead: with speed 60 a 10-minute payment expires after
10 real seconds, and a 14-day capture deadline passes after about 5.6 real hours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SandboxClock:
    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        """Jump forward (tests, and `POST /clock/advance`)."""
        self.offset += timedelta(seconds=seconds)

    def scaled(self, nominal: timedelta) -> timedelta:
        """How long a nominal duration really lasts at the current speed."""
        return nominal / self.speed

    def elapsed_nominal(self, since: datetime) -> timedelta:
        """Nominal time passed since `since` at the current speed."""
        return (self.now() - since) * self.speed


def iso_z(moment: datetime) -> str:
    """`2026-01-19T16:26:32.099Z`: UTC, milliseconds, `Z`, as Vipps writes timestamps."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_rfc3339(text: str) -> datetime | None:
    """Parse an RFC 3339 timestamp with a zone; None when it is not one."""
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)
