"""Payment requests from staff, the command line and the API: create and send, cancel, retry,
refund. (A customer's own pay and retry in the portal: `commands.portal`; sending a waiting
request's link on: `commands.links`.)

Each writes in its own transaction and calls the provider only after the commit; what the
provider answered comes back in the result. A provider that does not answer leaves the call to
the send or refund job, with the same idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from payrequest.commands import links
from payrequest.commands.missing import Missing
from payrequest.commands.sending import Sent, send_now
from payrequest.connections.directory import NotConnected
from payrequest.errors import PayrequestError, ValidationFailed
from payrequest.kit.money import parse_money
from payrequest.payment_requests import refunds, repository, workflows
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import create_request, retry_request
from payrequest.providers.base import ProviderError, TryAgainLater, UserFlow
from payrequest.runtime import Runtime

__all__ = ["Cancelled", "Refunded", "Sent", "cancel", "create_and_send", "refund", "retry"]


async def card_provider(runtime: Runtime) -> str | None:
    """The name of the provider the organisation takes card payments through; None: none."""
    try:
        return (await runtime.providers.card()).name
    except NotConnected:
        return None


async def _provider(runtime: Runtime, data: NewPaymentRequest, *, card: bool) -> str | None:
    """The provider a new request goes through: the card provider (`card`; refused when the
    organisation has none), the one `data` names, or None (the organisation's default)."""
    if card and data.provider is None:
        name = await card_provider(runtime)
        if name is None:
            raise PayrequestError(
                "This organisation takes no card payments: choose another way to pay",
                code="no_card",
            )
        return name
    if data.provider is not None and data.provider not in runtime.providers.directory.names:
        raise ValidationFailed(
            "No payment provider is called %(name)s", field="provider", name=data.provider
        )
    return data.provider


async def create_and_send(
    runtime: Runtime,
    data: NewPaymentRequest,
    *,
    card: bool = False,
    deliver_link: bool = False,
) -> Sent:
    """Write the request (`create_request`: bad input writes nothing), commit, and send it.

    `card`: through the organisation's card provider (as when `data` names it; its flow is a
    redirect to the provider's payment page unless `data` says otherwise). `deliver_link`: a
    card payment's link goes on to the customer at once, by SMS to a number on file or else
    by email (what came of that is in `Sent.link_channel` / `Sent.link_problem`).
    """
    provider = await _provider(runtime, data, card=card)
    if provider is not None and provider == runtime.providers.card_name:
        # A card payment is a redirect to the card provider's payment page.
        data = data.model_copy(
            update={"provider": provider, "user_flow": data.user_flow or UserFlow.redirect}
        )
    lifetime = await (runtime.lifetime_for(provider) if provider else runtime.lifetime())
    async with runtime.sessions() as session, session.begin():
        created = await create_request(session, data=data, lifetime=lifetime)
        reference = created.reference
    sent = await send_now(runtime, reference)
    if deliver_link and sent.provider == runtime.providers.card_name:
        channel, problem = await links.deliver_card_link(runtime, request_id=sent.id)
        sent = replace(sent, link_channel=channel, link_problem=problem)
    return sent


@dataclass(frozen=True, slots=True)
class Cancelled:
    id: int
    reference: str
    customer_id: int
    status: str  # `cancelled`, or where the provider says it went (e.g. already expired)


async def cancel(runtime: Runtime, *, request_id: int, user_id: int | None = None) -> Cancelled:
    """Withdraw a request that is waiting for the customer, at the provider and here.

    The provider's "try again in N seconds" is raised (TryAgainLater): no job cancels, the
    caller tries again after the wait. Conflict when the customer approved just now."""
    cancelled = await workflows.cancel(
        runtime.sessions, runtime.providers, request_id=request_id, user_id=user_id
    )
    runtime.wake()
    return Cancelled(cancelled.id, cancelled.reference, cancelled.customer_id, cancelled.status)


async def retry(
    runtime: Runtime,
    *,
    request_id: int,
    user_id: int | None = None,
    phone: str | None = None,
    user_flow: UserFlow | None = None,
) -> Sent:
    """A new attempt (`retry_request`: new reference, the invoices still open) through the
    provider of the old one and within its limits, sent at once. `phone` and `user_flow`
    change the number or the way the customer is reached."""
    async with runtime.read_sessions() as session:
        name = await repository.provider_of(session, request_id)
    lifetime = await runtime.lifetime_for(name or runtime.providers.default_name)
    async with runtime.sessions() as session, session.begin():
        new = await retry_request(
            session,
            request_id=request_id,
            lifetime=lifetime,
            created_by_user_id=user_id,
            phone=phone,
            user_flow=user_flow,
        )
        reference = new.reference
    return await send_now(runtime, reference)


@dataclass(frozen=True, slots=True)
class Refunded:
    """A refund as it stands after the provider was asked (or its job was left to ask)."""

    id: int
    payment_request_id: int
    amount: int  # minor units
    currency: str
    status: str  # `pending` (the job sends it), `succeeded` or `failed`
    waiting: TryAgainLater | None = None  # the provider asked us to wait; the job sends it


async def refund(
    runtime: Runtime,
    *,
    request_id: int,
    amount: int | str | None = None,
    reason: str = "Refund",
    user_id: int | None = None,
) -> Refunded:
    """Pay back all of a paid request (`amount` None) or part of it: minor units, or as typed
    (`"150,50"`) in the request's currency. The refund is written with its job, then sent."""
    async with runtime.sessions() as session, session.begin():
        stored = await repository.get(session, request_id)
        if stored is None:
            raise Missing("No such payment request")
        if isinstance(amount, str):
            amount = parse_money(amount, stored.currency).amount if amount.strip() else None
        created = await refunds.request_refund(
            session, payment_request_id=request_id, amount=amount, reason=reason, user_id=user_id
        )
        refund_id = created.id
    waiting = None
    try:
        await refunds.send_refund(runtime.sessions, runtime.providers, refund_id=refund_id)
    except TryAgainLater as exc:  # the refund job sends it after the wait, with the same key
        waiting = exc
    except ProviderError:
        pass  # the refund job retries with the same key
    runtime.wake()
    async with runtime.read_sessions() as session:
        found = await refunds.get(session, refund_id)
    assert found is not None
    return Refunded(
        found.id, found.payment_request_id, found.amount, found.currency, found.status, waiting
    )
