"""One home for announcements: every domain command that announces outbox events (a payment
request's moves, manual payments, credit) builds them with `events.announcements.Announcement`
and records them with `announce`; no package keeps its own copy of that class."""

from __future__ import annotations

import re
from pathlib import Path

from payrequest.events import announcements
from payrequest.payment_requests import apply

SRC = Path(announcements.__file__).resolve().parents[1]


def test_announcement_is_defined_once() -> None:
    defined = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if re.search(r"^class Announcement\b", path.read_text(encoding="utf-8"), re.M)
    )
    assert defined == ["events/announcements.py"]


def test_a_payment_requests_moves_are_announced_through_events_announcements() -> None:
    names = vars(apply)  # what apply.py imported, not what it exports
    assert names["Announcement"] is announcements.Announcement
    assert names["announce"] is announcements.announce
