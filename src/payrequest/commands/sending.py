"""Sending a committed payment request at once, and what came of it.

The request was written as `sending` with its send job; here the provider is asked right away.
If that fails (or the process dies first) the job sends it, with the same idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass

from payrequest.errors import NotFound
from payrequest.payment_requests import repository, workflows
from payrequest.providers.base import ProviderError, TryAgainLater
from payrequest.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Sent:
    """A payment request as it stands right after it was sent (or handed to its job)."""

    id: int
    reference: str
    customer_id: int
    provider: str  # the provider's name (providers/)
    status: str  # payment_requests.state.Status: `pending` once the provider took it
    redirect_url: str | None  # the provider's page or app link, once it gave one
    refused: bool = False  # the provider refused it at once (the request shows why)
    waiting: TryAgainLater | None = None  # the provider asked us to wait (the job sends later)
    link_channel: str | None = None  # where a card payment's link went on to (`sms`, `email`)
    link_problem: Exception | None = None  # why that link could not go (PayrequestError,
    # NotifyError); the request itself was sent


async def send_now(runtime: Runtime, reference: str) -> Sent:
    """Try the provider call right away; the send job does it if this fails or we crash."""
    refused, waiting = False, None
    try:
        accepted = await workflows.send(
            runtime.sessions,
            runtime.providers,
            reference=reference,
            return_url=runtime.urls.portal_returned(),
        )
        refused = not accepted
    except TryAgainLater as exc:
        waiting = exc
    except ProviderError:
        pass  # the job retries with the same idempotency key
    runtime.wake()
    return await as_sent(runtime, reference, refused=refused, waiting=waiting)


async def as_sent(
    runtime: Runtime,
    reference: str,
    *,
    refused: bool = False,
    waiting: TryAgainLater | None = None,
) -> Sent:
    """The request `reference` as it stands now."""
    async with runtime.read_sessions() as session:
        stored = await repository.by_reference(session, reference)
    if stored is None:
        raise NotFound("No such payment request")
    return Sent(
        id=stored.id,
        reference=stored.reference,
        customer_id=stored.customer_id,
        provider=stored.provider,
        status=stored.status,
        redirect_url=stored.redirect_url,
        refused=refused,
        waiting=waiting,
    )
