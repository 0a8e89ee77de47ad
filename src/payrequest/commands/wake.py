"""After a commit: have this process act on it now instead of at its next poll.

A command that commits work for the job worker (a send, a cancel, a refund) or news for open
pages calls its caller's `wake`: the web app's wakes its own worker and live tail
(`web.nudge.waker`); the command line has neither, and passes nothing. Other processes hear of
it through LISTEN/NOTIFY or their own polling.
"""

from __future__ import annotations

from collections.abc import Callable

Wake = Callable[[], None]


def nothing() -> None:
    """The `wake` of a process with no worker or live pages of its own (the command line)."""
