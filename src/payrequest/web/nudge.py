"""After a commit: have this process act on it now instead of at its next poll, and tell staff
what came of a send.

The worker may have a job to run (a send, a capture); the live tail may have notices for
open pages. Other processes hear of it through LISTEN/NOTIFY or their own polling. While the
app runs, `Runtime.wake` is `wake_app` of it (app.py): commands (`payrequest.commands`) call
that, whichever entry point (a page, the API) they run for.
"""

from __future__ import annotations

import math

from fastapi import Request
from starlette.applications import Starlette

from payrequest.commands.sending import Sent
from payrequest.providers.base import TryAgainLater
from payrequest.web import i18n


def wake_app(app: Starlette) -> None:
    """Wake `app`'s job worker and live tail (those it runs: app.state)."""
    worker = getattr(app.state, "worker", None)
    if worker is not None:
        worker.notify()
    tail = getattr(app.state, "tail", None)
    if tail is not None:
        tail.wake()


def wake(request: Request) -> None:
    wake_app(request.app)


def sent_text(result: Sent, sent: str) -> tuple[str, str]:
    """The message for staff after sending, and its kind: `sent` when it went out."""
    if result.refused:
        return i18n.gettext("The request was refused; the reason is shown with it below."), "error"
    if result.waiting is not None:
        return waiting_text(result.waiting), "ok"
    return sent, "ok"


def waiting_text(wait: TryAgainLater, *, done_later: bool = True) -> str:
    """Tell staff that the provider asked us to wait, and what happens then: the job does it
    (`done_later`), or they try again themselves."""
    seconds = max(1, math.ceil(wait.retry_after.total_seconds()))
    if done_later:
        text = i18n.ngettext(
            "The payment service asked us to wait; it will be done in %(seconds)s second.",
            "The payment service asked us to wait; it will be done in %(seconds)s seconds.",
            seconds,
        )
    else:
        text = i18n.ngettext(
            "The payment service asked us to wait; nothing was changed. Try again in "
            "%(seconds)s second.",
            "The payment service asked us to wait; nothing was changed. Try again in "
            "%(seconds)s seconds.",
            seconds,
        )
    return text % {"seconds": seconds}
