"""The link a waiting request gives the customer, if any: a QR request's link (the one its QR
code stands for; on a phone it opens the Vipps MobilePay app) or a card payment's payment page.
Staff see it on the request and send it on by SMS or email (`commands.links`), a flow's "send a
payment request" sends it when the customer gets no push (`automations.requesting`); the
message, in the customer's language, is written here for both."""

from __future__ import annotations

from payrequest import i18n
from payrequest.errors import N_
from payrequest.payment_requests.models import PaymentRequest
from payrequest.providers.base import UserFlow

WAITING = ("sending", "pending")
CARD = "card"  # a redirect through the card provider: its payment page
TEXT = N_("%(description)s: %(amount)s. Pay with Vipps MobilePay: %(url)s (open it by %(expires)s)")
CARD_TEXT = N_("%(description)s: %(amount)s. Pay by card: %(url)s (open it by %(expires)s)")
SUBJECT = N_("Payment request: %(amount)s")


def shows_code(payment: PaymentRequest) -> bool:
    """A waiting QR request whose link the provider gave us."""
    return (
        payment.user_flow == UserFlow.qr.value
        and bool(payment.redirect_url)
        and (payment.status in WAITING)
    )


def link_kind(payment: PaymentRequest, card_name: str | None) -> str | None:
    """What a waiting request's link for the customer is: `qr` (the QR code's link), `card`
    (the card provider's payment page), or None (no link to send)."""
    if shows_code(payment):
        return UserFlow.qr.value
    if (
        card_name is not None
        and payment.provider == card_name
        and payment.user_flow == UserFlow.redirect.value
        and bool(payment.redirect_url)
        and payment.status in WAITING
    ):
        return CARD
    return None


def message(payment: PaymentRequest, language: str, *, card: bool = False) -> str:
    """The message with the link, in the customer's language (`card`: a card payment's)."""
    assert payment.redirect_url is not None
    return i18n.render(
        language,
        CARD_TEXT if card else TEXT,
        {
            "description": payment.description,
            "amount": i18n.money(language, payment.amount, payment.currency),
            "url": payment.redirect_url,
            "expires": payment.expires_at,
        },
    )


def subject(payment: PaymentRequest, language: str) -> str:
    """An email's subject for the message."""
    amount = i18n.money(language, payment.amount, payment.currency)
    return i18n.render(language, SUBJECT, {"amount": amount})
