"""The flows every installation starts with (inserted switched off by migration 0004, their
texts given Norwegian and Danish versions by migration 0008).

Their names are stored in English; while a name is unchanged it is one of these message ids,
and pages show it in the reader's language.
"""

from __future__ import annotations

from payrequest.errors import N_

NAMES = frozenset(
    {
        N_("SMS receipt when a payment completes"),
        N_("Tell staff by email when a payment fails"),
    }
)


def is_ready_made_name(name: str) -> bool:
    return name in NAMES
