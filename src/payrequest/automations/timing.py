"""Flows started by the calendar instead of an event: "an invoice is due in N days", "an
invoice is overdue by N days", "a customer's credit has been unused for N days". Pure rules
here; the scheduler (automations.schedule) applies
them.

A flow with a time trigger keeps its `timing`:

- `days`: N, 0..365 (0: on the due date itself);
- `missed`: what to do with a day that passed without the reminder (the worker was down, the
  flow was switched on since): `late` sends it once, late, up to `LATE_DAYS` back but never
  for a day before the flow was switched on; `skip` leaves it;
- `quiet_hours`: send only between 08:00 and 20:00 in the business's time zone (default on);
- `weekends`: also on Saturdays and Sundays (default off).

A step that falls in quiet hours or on a weekend waits for the next allowed moment, the same
step, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from payrequest.errors import ValidationFailed
from payrequest.kit.markets import COUNTRY_TIME_ZONE

INVOICE_DUE: Final = "schedule.invoice_due"
INVOICE_OVERDUE: Final = "schedule.invoice_overdue"
CREDIT_UNUSED: Final = "schedule.credit_unused"  # N days after a credit arose, still unused
INVOICE_TRIGGERS: Final = (INVOICE_DUE, INVOICE_OVERDUE)
TIME_TRIGGERS: Final = (*INVOICE_TRIGGERS, CREDIT_UNUSED)  # in words: web.labels, "event"
MISSED = ("late", "skip")
MOST_DAYS = 365
LATE_DAYS = 30  # how far back a missed day is still sent late
DAY_STARTS, DAY_ENDS = time(8, 0), time(20, 0)  # outside: quiet hours
SATURDAY = 5


@dataclass(frozen=True, slots=True)
class Timing:
    days: int
    missed: str = "late"
    quiet_hours: bool = True
    weekends: bool = False

    @classmethod
    def of(cls, stored: dict[str, Any] | None) -> Timing:
        values = stored or {}
        return cls(
            days=int(values.get("days", 0)),
            missed=str(values.get("missed", "late")),
            quiet_hours=bool(values.get("quiet_hours", True)),
            weekends=bool(values.get("weekends", False)),
        )

    def stored(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "missed": self.missed,
            "quiet_hours": self.quiet_hours,
            "weekends": self.weekends,
        }


def clean(raw: dict[str, Any]) -> dict[str, Any]:
    """The timing as stored; raises ValidationFailed naming the field."""
    days = raw.get("days")
    if isinstance(days, str) and days.strip().isdigit():
        days = int(days.strip())
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MOST_DAYS:
        raise ValidationFailed(
            "Give the number of days as a whole number from 0 to %(most)s",
            field="days",
            most=MOST_DAYS,
        )
    missed = raw.get("missed") or "late"
    if missed not in MISSED:
        raise ValidationFailed("Unknown value “%(value)s”", field="missed", value=str(missed))
    return Timing(days, missed, bool(raw.get("quiet_hours")), bool(raw.get("weekends"))).stored()


def time_zone(market: str) -> ZoneInfo:
    return ZoneInfo(COUNTRY_TIME_ZONE.get(market, COUNTRY_TIME_ZONE["NO"]))


def may_send(local: datetime, timing: Timing) -> bool:
    """Whether a step may go out at `local` (the business's own time)."""
    if not timing.weekends and local.weekday() >= SATURDAY:
        return False
    return not timing.quiet_hours or DAY_STARTS <= local.time() < DAY_ENDS


def step_days(today: date, timing: Timing, *, switched_on: date) -> tuple[date, date]:
    """The days whose steps are due now, first and last: today alone, or (`late`) back to
    LATE_DAYS ago, never before the day the flow was switched on."""
    if timing.missed == "skip":
        return today, today
    return max(today - timedelta(days=LATE_DAYS), min(switched_on, today)), today


def due_dates(trigger: str, steps: tuple[date, date], days: int) -> tuple[date, date]:
    """The due dates of the invoices whose step falls in `steps` (first and last day)."""
    shift = timedelta(days=days if trigger == INVOICE_DUE else -days)
    return steps[0] + shift, steps[1] + shift


def step_day(trigger: str, due_date: date, days: int) -> date:
    """The day an invoice's step is due: N days before or after its due date."""
    shift = timedelta(days=days)
    return due_date - shift if trigger == INVOICE_DUE else due_date + shift
