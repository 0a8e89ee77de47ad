"""Sending a QR request's payment link to the customer by SMS or email, in their language.

The link is the one the QR code stands for (the provider's target URL): on a phone it opens
the Vipps MobilePay app. One idempotency key per request and channel, so pressing the button
twice sends one message where the gateway can tell.
"""

from __future__ import annotations

from payrequest import i18n
from payrequest.customers import repository as customers
from payrequest.errors import N_, Conflict, NotFound, ValidationFailed
from payrequest.payment_requests import repository
from payrequest.payment_requests.models import PaymentRequest
from payrequest.runtime import Runtime
from payrequest.web.admin.request_forms import shows_code

CHANNELS = ("sms", "email")
TEXT = N_("%(description)s: %(amount)s. Pay with Vipps MobilePay: %(url)s (open it by %(expires)s)")
SUBJECT = N_("Payment request: %(amount)s")


def message(payment: PaymentRequest, language: str) -> str:
    """The message in the customer's language."""
    assert payment.redirect_url is not None
    return i18n.render(
        language,
        TEXT,
        {
            "description": payment.description,
            "amount": i18n.money(language, payment.amount, payment.currency),
            "url": payment.redirect_url,
            "expires": payment.expires_at,
        },
    )


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
    if not shows_code(payment):
        raise Conflict("Only a QR request that is waiting for the customer has a link to send")
    key = f"payment-link-{payment.reference}-{channel}"
    text = message(payment, customer.locale)
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
    subject = i18n.render(
        customer.locale,
        SUBJECT,
        {"amount": i18n.money(customer.locale, payment.amount, payment.currency)},
    )
    await runtime.email.send(to=customer.email, subject=subject, text=text, idempotency_key=key)
    return payment
