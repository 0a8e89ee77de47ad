"""Backoff with full jitter: ceilings double from base up to cap; delays stay under them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payrequest.jobs.backoff import Backoff

BASE, CAP = timedelta(seconds=1), timedelta(minutes=10)


def test_ceiling_doubles_from_base_until_the_cap() -> None:
    backoff = Backoff(base=BASE, cap=CAP)
    ceilings = [backoff.ceiling(attempt).total_seconds() for attempt in range(1, 13)]
    assert ceilings == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]
    assert backoff.ceiling(10_000) == CAP
    assert backoff.ceiling(0) == BASE


@given(attempt=st.integers(min_value=1, max_value=200))
def test_delay_is_between_zero_and_the_ceiling(attempt: int) -> None:
    backoff = Backoff(base=BASE, cap=CAP)
    assert timedelta(0) <= backoff.delay(attempt) <= backoff.ceiling(attempt)


def test_jitter_is_full_range_and_clamped() -> None:
    assert Backoff(uniform=lambda low, high: low).delay(5) == timedelta(0)
    assert Backoff(uniform=lambda low, high: high).delay(5) == timedelta(seconds=16)
    assert Backoff(uniform=lambda low, high: high * 3).delay(5) == timedelta(seconds=16)
    assert Backoff(uniform=lambda low, high: -1.0).delay(5) == timedelta(0)


def test_random_delays_spread_out() -> None:
    delays = {Backoff().delay(8) for _ in range(50)}
    assert len(delays) > 40


@pytest.mark.parametrize(
    ("base", "cap"),
    [(timedelta(0), CAP), (timedelta(seconds=-1), CAP), (timedelta(seconds=5), BASE)],
)
def test_nonsense_settings_are_refused(base: timedelta, cap: timedelta) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(base=base, cap=cap)
