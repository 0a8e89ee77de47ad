"""The days an export covers: from and to, both included, in the business's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from payrequest.errors import ValidationFailed
from payrequest.i18n import TIMEZONE


@dataclass(frozen=True, slots=True)
class Period:
    first: date
    last: date

    @classmethod
    def of(cls, first: date, last: date) -> Period:
        """The days `first` to `last`; ValidationFailed when they run backwards."""
        if last < first:
            raise ValidationFailed(
                "The period ends before it starts", field="to", code="period_backwards"
            )
        return cls(first, last)

    @classmethod
    def parse(cls, first: str, last: str) -> Period:
        """From two dates written YYYY-MM-DD (a form's or a command line's)."""
        return cls.of(_day(first, "from"), _day(last, "to"))

    @property
    def starts(self) -> datetime:
        """The first moment of the first day, in UTC."""
        return _midnight(self.first)

    @property
    def ends(self) -> datetime:
        """The first moment after the last day, in UTC."""
        return _midnight(self.last + timedelta(days=1))

    def filename(self, name: str) -> str:
        return f"{name}-{self.first.isoformat()}-{self.last.isoformat()}.csv"


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=TIMEZONE).astimezone(UTC)


def _day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(
            "“%(text)s” is not a date (YYYY-MM-DD)", field=field, text=text
        ) from None


def this_month(today: date) -> Period:
    """From the first of `today`'s month to `today`: what an export form starts with."""
    return Period(today.replace(day=1), today)


def business_day(moment: datetime) -> date:
    """The day a moment falls on in the business's time zone."""
    return moment.astimezone(TIMEZONE).date()
