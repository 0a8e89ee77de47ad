"""After a commit: have this process act on it now instead of at its next poll.

The worker may have a job to run (a send, a capture); the live tail may have notices for
open pages. Other processes hear of it through LISTEN/NOTIFY or their own polling.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

from fastapi import Request

from payrequest.errors import PayrequestError
from payrequest.payment_requests import workflows
from payrequest.providers.base import ProviderError, TryAgainLater
from payrequest.runtime import Runtime
from payrequest.web import i18n


def wake(request: Request) -> None:
    worker = getattr(request.app.state, "worker", None)
    if worker is not None:
        worker.notify()
    tail = getattr(request.app.state, "tail", None)
    if tail is not None:
        tail.wake()


@dataclass(frozen=True, slots=True)
class SendResult:
    refused: bool = False  # the provider refused it at once (the request shows why)
    waiting: TryAgainLater | None = None  # the provider asked us to wait (the job sends later)


async def send_now(request: Request, runtime: Runtime, reference: str) -> SendResult:
    """Try the provider call right away; the send job does it if this fails or we crash."""
    result = SendResult()
    try:
        accepted = await workflows.send(
            runtime.sessions,
            runtime.providers,
            reference=reference,
            return_url=runtime.urls.portal_returned(),
        )
        result = SendResult(refused=not accepted)
    except TryAgainLater as exc:
        result = SendResult(waiting=exc)
    except ProviderError:
        pass  # the job retries with the same idempotency key
    wake(request)
    return result


POLL_BUDGET = 3.0  # seconds a page waits for the provider's answer before it shows what it has


async def poll_now(runtime: Runtime, reference: str) -> None:
    """Ask the provider now where a waiting request stands (the payer is back from its
    payment page), instead of waiting for its webhook or the next poll; a provider that is
    slow or away leaves that to them."""
    with contextlib.suppress(ProviderError, PayrequestError, TimeoutError):
        await workflows.poll(
            runtime.sessions, runtime.providers, reference=reference, budget=POLL_BUDGET
        )


def sent_text(result: SendResult, sent: str) -> tuple[str, str]:
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
