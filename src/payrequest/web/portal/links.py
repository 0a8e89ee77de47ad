"""Sending a portal link by SMS or email, in the customer's language."""

from __future__ import annotations

import logging

from payrequest.customers.models import Customer
from payrequest.db.scope import acting_for
from payrequest.errors import ValidationFailed
from payrequest.portal import service as portal
from payrequest.portal.service import LINK_LIFETIME, IssuedLink
from payrequest.runtime import Runtime
from payrequest.web import i18n

log = logging.getLogger(__name__)


async def send_link_if_known(runtime: Runtime, contact: str, organisation_id: int) -> None:
    """For /portal/start, after its answer has gone out (a background task): a link for the
    organisation's customer with this email or mobile number, if there is one (another
    business's customers are not looked at). Whether there is one shows neither in the answer
    nor in how long it took. Failures are logged, never raised."""
    try:
        with acting_for(organisation_id):  # the SMS carries the organisation's sender id
            async with runtime.sessions() as session, session.begin():
                found = await portal.find_by_contact(session, contact)
                if found is None:
                    return
                customer, channel = found
                issued = await portal.issue_link(session, customer_id=customer.id, channel=channel)
            await deliver_link(runtime, customer=customer, channel=channel, issued=issued)
    except Exception:
        log.exception("could not send a portal link asked for on the start page")


async def deliver_link(
    runtime: Runtime, *, customer: Customer, channel: str, issued: IssuedLink
) -> None:
    """Send the link; raises ValidationFailed when the customer cannot get it that way, or
    the gateway's error (the caller decides what to tell whom)."""
    url = runtime.urls.portal_link(issued.token)
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    with i18n.use_language(customer.locale):
        text = i18n.gettext(
            "Your link to see and pay your invoices: {url} (works once, for {minutes} minutes)"
        ).format(url=url, minutes=minutes)
        subject = i18n.gettext("Your link to pay your invoices")
    key = f"portal-link-{issued.link_id}"
    if channel == "sms":
        if not customer.phone:
            raise ValidationFailed("The customer has no mobile number")
        await runtime.sms.send(to=customer.phone, text=text, idempotency_key=key)
    else:
        if not customer.email:
            raise ValidationFailed("The customer has no email address")
        if runtime.email is None:
            raise ValidationFailed("Email is switched off: no SMTP server configured")
        await runtime.email.send(to=customer.email, subject=subject, text=text, idempotency_key=key)
