"""After a commit: have this process act on it now instead of at its next poll.

The worker may have a job to run (a send, a capture); the live tail may have notices for
open pages. Other processes hear of it through LISTEN/NOTIFY or their own polling.
"""

from __future__ import annotations

import contextlib

from fastapi import Request

from payrequest.payment_requests import workflows
from payrequest.providers.base import ProviderError
from payrequest.runtime import Runtime


def wake(request: Request) -> None:
    worker = getattr(request.app.state, "worker", None)
    if worker is not None:
        worker.notify()
    tail = getattr(request.app.state, "tail", None)
    if tail is not None:
        tail.wake()


async def send_now(request: Request, runtime: Runtime, reference: str) -> None:
    """Try the provider call right away; the send job does it if this fails or we crash."""
    with contextlib.suppress(ProviderError):  # the job retries with the same idempotency key
        await workflows.send(
            runtime.sessions,
            runtime.provider,
            reference=reference,
            return_url=runtime.urls.portal_returned(),
        )
    wake(request)
