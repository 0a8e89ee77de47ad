"""Sending a waiting request's payment link to the customer by SMS or email, in their language
(`payment_requests.waiting_link`: which requests have one).

A QR request's link is the one the QR code stands for (the provider's target URL): on a phone
it opens the Vipps MobilePay app. A card payment's link is the card provider's payment page.
One idempotency key per request and channel, so pressing the button twice sends one message
where the gateway can tell.
"""

from __future__ import annotations

from payrequest.customers import repository as customers
from payrequest.customers.models import Customer
from payrequest.errors import Conflict, NotFound, PayrequestError, ValidationFailed
from payrequest.notify.errors import NotifyError
from payrequest.payment_requests import repository
from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.waiting_link import CARD, link_kind, message, subject
from payrequest.runtime import Runtime

CHANNELS = ("sms", "email")


def default_channel(customer: Customer) -> str:
    """Where a link goes when nobody chose: SMS to a mobile number on file, else email."""
    return "sms" if customer.phone else "email"


async def send_link(runtime: Runtime, *, request_id: int, channel: str) -> PaymentRequest:
    """Send the link; PayrequestError when there is nothing to send or nowhere to send it,
    the gateway's error (NotifyError) when sending failed."""
    if channel not in CHANNELS:
        raise ValidationFailed("Choose SMS or email", field="channel")
    async with runtime.read_sessions() as session:
        payment = await repository.get(session, request_id)
        if payment is None:
            raise NotFound("No such payment request")
        customer = await customers.get(session, payment.customer_id)
    assert customer is not None
    kind = link_kind(payment, runtime.providers.card_name)
    if kind is None:
        raise Conflict(
            "Only a QR request or card payment that is waiting for the customer has a link to send"
        )
    key = f"payment-link-{payment.reference}-{channel}"
    text = message(payment, customer.locale, card=kind == CARD)
    if channel == "sms":
        if not customer.phone:
            raise ValidationFailed(
                "The customer has no mobile number on file: add one on the customer, or "
                "send the link by email",
                field="channel",
            )
        await runtime.sms.send(to=customer.phone, text=text, idempotency_key=key)
        return payment
    if not customer.email:
        raise ValidationFailed(
            "The customer has no email address on file: add one on the customer, or send "
            "the link by SMS",
            field="channel",
        )
    if runtime.email is None:
        raise ValidationFailed(
            "Email is off: no SMTP server is configured (see Settings)", field="channel"
        )
    title = subject(payment, customer.locale)
    await runtime.email.send(to=customer.email, subject=title, text=text, idempotency_key=key)
    return payment


async def send_card_link_now(runtime: Runtime, *, request_id: int) -> str | None:
    """Right after a card payment link request was sent: send its link to the customer by
    `default_channel`. The channel it went by; None while the provider has not given the link
    yet (staff send it with the request's button once it has). Errors as `send_link`."""
    async with runtime.read_sessions() as session:
        payment = await repository.get(session, request_id)
        customer = await customers.get(session, payment.customer_id) if payment else None
    if payment is None or customer is None:
        return None
    if link_kind(payment, runtime.providers.card_name) != CARD:
        return None
    channel = default_channel(customer)
    await send_link(runtime, request_id=request_id, channel=channel)
    return channel


async def deliver_card_link(
    runtime: Runtime, *, request_id: int
) -> tuple[str | None, Exception | None]:
    """`send_card_link_now`, with what went wrong kept rather than raised: (the channel it went
    by or None, the problem: a PayrequestError or the gateway's NotifyError, or None). The
    request was sent either way; staff can send its link again with the request's button."""
    try:
        return await send_card_link_now(runtime, request_id=request_id), None
    except (PayrequestError, NotifyError) as exc:
        return None, exc
