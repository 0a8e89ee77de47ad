"""The rules of time-triggered flows (automations.timing): which days' steps are due, the due
dates they stand for, when a step may go out, and what a flow's timing may hold."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from payrequest.automations import timing
from payrequest.automations.timing import INVOICE_DUE, INVOICE_OVERDUE, Timing
from payrequest.errors import ValidationFailed

OSLO = timing.time_zone("NO")
MONDAY = date(2027, 3, 8)


def test_the_steps_due_are_today_or_late_ones_never_before_switching_on() -> None:
    late, skip = Timing(3, "late"), Timing(3, "skip")
    assert timing.step_days(MONDAY, skip, switched_on=date(2027, 1, 1)) == (MONDAY, MONDAY)
    assert timing.step_days(MONDAY, late, switched_on=date(2027, 3, 5)) == (
        date(2027, 3, 5),
        MONDAY,
    )
    assert timing.step_days(MONDAY, late, switched_on=date(2026, 1, 1)) == (
        date(2027, 2, 6),  # LATE_DAYS back at most
        MONDAY,
    )
    assert timing.step_days(MONDAY, late, switched_on=date(2027, 4, 1)) == (MONDAY, MONDAY)


@pytest.mark.parametrize(
    ("trigger", "days", "due", "step"),
    [
        (INVOICE_DUE, 3, date(2027, 3, 11), MONDAY),
        (INVOICE_DUE, 0, MONDAY, MONDAY),
        (INVOICE_OVERDUE, 7, date(2027, 3, 1), MONDAY),
        (INVOICE_OVERDUE, 14, date(2027, 2, 22), MONDAY),
    ],
)
def test_a_step_day_and_the_due_dates_it_stands_for_agree(
    trigger: str, days: int, due: date, step: date
) -> None:
    assert timing.step_day(trigger, due, days) == step
    assert timing.due_dates(trigger, (step, step), days) == (due, due)


@pytest.mark.parametrize(
    ("local", "rules", "allowed"),
    [
        (datetime(2027, 3, 8, 7, 59, tzinfo=OSLO), Timing(0), False),
        (datetime(2027, 3, 8, 8, 0, tzinfo=OSLO), Timing(0), True),
        (datetime(2027, 3, 8, 19, 59, tzinfo=OSLO), Timing(0), True),
        (datetime(2027, 3, 8, 20, 0, tzinfo=OSLO), Timing(0), False),
        (datetime(2027, 3, 8, 3, 0, tzinfo=OSLO), Timing(0, quiet_hours=False), True),
        (datetime(2027, 3, 13, 12, 0, tzinfo=OSLO), Timing(0), False),  # Saturday
        (datetime(2027, 3, 14, 12, 0, tzinfo=OSLO), Timing(0), False),  # Sunday
        (datetime(2027, 3, 14, 12, 0, tzinfo=OSLO), Timing(0, weekends=True), True),
        (datetime(2027, 3, 14, 3, 0, tzinfo=OSLO), Timing(0, weekends=True), False),
    ],
)
def test_quiet_hours_and_weekends(local: datetime, rules: Timing, allowed: bool) -> None:
    assert timing.may_send(local, rules) is allowed


def test_each_country_keeps_its_own_hours() -> None:
    assert str(timing.time_zone("DK")) == "Europe/Copenhagen"
    assert str(timing.time_zone("FI")) == "Europe/Helsinki"


def test_a_timing_is_checked_and_stored_whole() -> None:
    assert timing.clean({"days": "14", "missed": "skip", "quiet_hours": True}) == {
        "days": 14,
        "missed": "skip",
        "quiet_hours": True,
        "weekends": False,
    }
    assert Timing.of(timing.clean({"days": 0})) == Timing(0, "late", False, False)
    for days in ("", "-1", "366", "3.5", True, None):
        with pytest.raises(ValidationFailed) as refused:
            timing.clean({"days": days})
        assert refused.value.field == "days"
    with pytest.raises(ValidationFailed) as refused:
        timing.clean({"days": 1, "missed": "flood"})
    assert refused.value.field == "missed"
