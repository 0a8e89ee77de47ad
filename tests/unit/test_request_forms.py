"""Reading the staff's send form (web.admin.request_forms): the flow, the amount, and the
expiry presets and dates offered within what the sales unit allows."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from payrequest.errors import ValidationFailed
from payrequest.payment_requests.service import Lifetime
from payrequest.providers.base import Capabilities, UserFlow
from payrequest.web import i18n
from payrequest.web.admin.request_forms import (
    _date_range,
    amount_minor,
    chosen_flow,
    duration_label,
    lifetime_minutes,
)

DAY = 24 * 60
NOW = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)  # 12:00 in Oslo and Copenhagen


def test_no_number_means_a_qr_request() -> None:
    assert chosen_flow("push", "  ") is UserFlow.qr
    assert chosen_flow("qr", "+4791234567") is UserFlow.qr
    assert chosen_flow("push", "912 34 567") is UserFlow.push
    assert chosen_flow("", "912 34 567") is UserFlow.push


def test_the_amount_is_read_as_typed_or_left_to_everything_open() -> None:
    assert amount_minor("", "NOK") is None
    assert amount_minor("1 234,50", "NOK") == 123_450
    assert amount_minor("350", "DKK") == 35_000
    with pytest.raises(ValidationFailed):
        amount_minor("abc", "NOK")


def test_a_chosen_day_expires_at_its_end_in_local_time() -> None:
    assert lifetime_minutes("", "", NOW) is None
    assert lifetime_minutes("60", "", NOW) == 60
    # 2026-11-23 23:59 in Oslo (UTC+1) is 22:59 UTC: 2 days, 11 hours, 59 minutes from NOW.
    assert lifetime_minutes("custom", "2026-11-23", NOW) == 2 * DAY + 11 * 60 + 59
    for choice, day in (("custom", ""), ("custom", "23.11.2026"), ("soon", "")):
        with pytest.raises(ValidationFailed) as refused:
            lifetime_minutes(choice, day, NOW)
        assert refused.value.field == "lifetime"


def test_dates_are_offered_only_within_the_bounds() -> None:
    denmark = Lifetime(DAY, Capabilities(long_living=True, max_lifetime_minutes=60 * DAY))
    first, last = _date_range(denmark, NOW)
    assert first == date(2026, 11, 21)  # today still ends more than 15 minutes from now
    assert last == date(2027, 1, 19)  # the end of 20 January is beyond 60 days less 5 minutes
    norway = Lifetime(DAY, Capabilities(long_living=True, max_lifetime_minutes=DAY))
    assert _date_range(norway, NOW) == (None, None)  # at most a day: no date to choose
    standard = Lifetime(DAY, Capabilities())
    assert _date_range(standard, NOW) == (None, None)


def test_durations_are_written_exactly() -> None:
    assert duration_label(DAY - 5) == "23 hours 55 minutes"
    assert duration_label(7 * DAY) == "7 days"
    assert duration_label(60) == "1 hour"


@pytest.mark.parametrize(
    ("language", "expected"),
    [("nb", "23 timer 55 minutter"), ("da", "23 timer 55 minutter"), ("en", "23 hours 55 minutes")],
)
def test_durations_are_written_in_the_readers_language(language: str, expected: str) -> None:
    with i18n.use_language(language):
        assert duration_label(DAY - 5) == expected
    with i18n.use_language(language):
        assert (
            duration_label(2 * DAY + 1)
            == {
                "nb": "2 dager 1 minutt",
                "da": "2 dage 1 minut",
                "en": "2 days 1 minute",
            }[language]
        )
