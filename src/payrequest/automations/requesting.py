"""The action "send a payment request": what its config holds, the request it writes, and the
link it sends when the customer gets no push.

Config (every key optional; an old `{}` config means the defaults):

- `via`: `default` (the organisation's payment provider) or `card` (its card provider: a card
  payment page; there is no push for cards).
- `send`: `push` (to the customer's mobile number to approve in the app; when there is no
  number, the link instead) or `link` (always the link: the QR code's link that opens the app
  on a phone, or the card payment page).
- `channel`: how a link goes, `sms` or `email`; when the customer has no such address on file,
  the other one. Neither: the action fails before anything is written, and the run log says so.
- `lifetime_days`: how long the request stays open, in whole days; absent: the provider's
  usual lifetime. Checked against what the provider allows when the request is written.

The request is written with the action's record, in its transaction (once), for what is still
open on the event's invoices; `create_request` refuses an invoice that already has a request
waiting. Its send job reaches the provider. A link exists only once the provider answered, so
delivering a link waits for it: until then the action is retried (the run log says it waits);
the message (`payment_requests.waiting_link`) is in the customer's language and goes out with
the action's idempotency key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.automations.context import BABEL_LOCALES
from payrequest.customers.models import Customer
from payrequest.errors import N_, PayrequestError, ValidationFailed
from payrequest.kit.money import Money
from payrequest.notify.email.smtp import EmailSender
from payrequest.notify.errors import NotifyError
from payrequest.notify.sms.base import SmsGateway
from payrequest.payment_requests import repository, waiting_link
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.providers.base import UserFlow

VIAS = ("default", "card")
SENDS = ("push", "link")
CHANNELS = ("sms", "email")
PUSH = "app"  # `channel` of a rendered push: to the payment app
MAX_LIFETIME_DAYS = 60  # what any provider allows is checked when the request is written
NO_CARD = N_("This organisation takes no card payments: choose another way to pay")


def clean(config: dict[str, Any], field: Callable[[str], str]) -> dict[str, Any]:
    """The config as stored; ValidationFailed naming the form field `field(key)`."""
    via = str(config.get("via") or "default")
    send = str(config.get("send") or "push")
    channel = str(config.get("channel") or "sms")
    for key, value, allowed in (("via", via, VIAS), ("send", send, SENDS)):
        if value not in allowed:
            raise ValidationFailed("Unknown value “%(value)s”", field=field(key), value=value)
    if channel not in CHANNELS:
        raise ValidationFailed(N_("Choose SMS or email"), field=field("channel"))
    cleaned: dict[str, Any] = {"via": via, "send": "link" if via == "card" else send}
    cleaned["channel"] = channel
    days = str(config.get("lifetime_days") or "").strip()
    if days:
        if not days.isdigit() or not 1 <= int(days) <= MAX_LIFETIME_DAYS:
            raise ValidationFailed(
                "Give a whole number of days from 1 to %(most)s",
                field=field("lifetime_days"),
                most=MAX_LIFETIME_DAYS,
            )
        cleaned["lifetime_days"] = int(days)
    return cleaned


@dataclass(frozen=True, slots=True)
class Way:
    """How one customer gets the request: a push to `to`, or the link by `channel` to `to`."""

    flow: UserFlow
    channel: str  # PUSH, "sms" or "email"
    to: str


def way(config: dict[str, Any], *, phone: str | None, email: str | None) -> Way:
    """How the request reaches a customer with this phone and email; ValidationFailed when it
    cannot (no number for a push and no address for the link)."""
    card = config.get("via") == "card"
    if not card and config.get("send", "push") == "push" and phone:
        return Way(UserFlow.push, PUSH, phone)
    flow = UserFlow.redirect if card else UserFlow.qr
    addresses = {"sms": phone, "email": email}
    first = str(config.get("channel") or "sms")
    for channel in (first, *(c for c in CHANNELS if c != first)):
        address = addresses.get(channel)
        if address:
            return Way(flow, channel, address)
    raise ValidationFailed("The customer has neither a mobile number nor an email address")


def describe(config: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """What a preview shows: the way to the event's customer and the amount."""
    reached = way(
        config,
        phone=str(context.get("customer_phone") or "") or None,
        email=str(context.get("customer_email") or "") or None,
    )
    return {"channel": reached.channel, "to": reached.to, "amount": context.get("amount")}


async def write(
    session: AsyncSession,
    *,
    config: dict[str, Any],
    customer: Customer,
    invoice_ids: list[int],
    lifetime: Callable[[str | None], Awaitable[Lifetime]],
    card_name: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Write the request for what is open on `invoice_ids` (status `sending`, with its send
    job); what the run log keeps of it."""
    card = config.get("via") == "card"
    if card and card_name is None:
        raise PayrequestError(NO_CARD, code="no_card")
    reached = way(config, phone=customer.phone, email=customer.email)
    days = config.get("lifetime_days")
    request = await create_request(
        session,
        data=NewPaymentRequest(
            customer_id=customer.id,
            invoice_ids=invoice_ids,
            phone=customer.phone if reached.flow is UserFlow.push else None,
            user_flow=reached.flow,
            origin="automation",
            lifetime_minutes=int(days) * 24 * 60 if days else None,
            provider=card_name if card else None,
        ),
        lifetime=await lifetime(card_name if card else None),
        now=now,
    )
    return {
        "reference": request.reference,
        "channel": reached.channel,
        "to": reached.to,
        "amount": Money(request.amount, request.currency).format(
            BABEL_LOCALES.get(customer.locale, "nb_NO")
        ),
        "link_language": customer.locale,
        "card": card,
    }


async def deliver(
    sessions: async_sessionmaker[AsyncSession],
    sms: SmsGateway,
    email: EmailSender | None,
    rendered: dict[str, Any],
    key: str,
) -> dict[str, Any]:
    """A push needs nothing more (the request's send job reaches the provider). A link is
    sent once the provider gave it; until then a retryable NotifyError says the action waits."""
    reference = rendered["reference"]
    channel = rendered.get("channel", PUSH)
    if channel == PUSH:
        return {"reference": reference}
    async with sessions() as session:
        payment = await repository.by_reference(session, reference)
    if payment is None or payment.status not in waiting_link.WAITING:
        raise NotifyError(N_("The payment request ended before its link could be sent"), False)
    if not payment.redirect_url:
        raise NotifyError(N_("Waiting for the payment link from the provider"), True)
    language = str(rendered.get("link_language") or "nb")
    text = waiting_link.message(payment, language, card=bool(rendered.get("card")))
    if channel == "sms":
        sent = await sms.send(to=rendered["to"], text=text, idempotency_key=key)
        return {"reference": reference, "gateway": sent.gateway, "message_id": sent.message_id}
    if email is None:
        raise NotifyError(N_("Email is switched off: no SMTP server configured"), False)
    mail = await email.send(
        to=rendered["to"],
        subject=waiting_link.subject(payment, language),
        text=text,
        idempotency_key=key,
    )
    return {"reference": reference, "message_id": mail.message_id}
