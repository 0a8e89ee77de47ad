"""The link a waiting request gives the customer, if any: a QR request's link (the one its QR
code stands for; on a phone it opens the Vipps MobilePay app) or a card payment's payment page.
Staff see it on the request and send it on by SMS or email (`commands.links`)."""

from __future__ import annotations

from payrequest.payment_requests.models import PaymentRequest
from payrequest.providers.base import UserFlow

WAITING = ("sending", "pending")
CARD = "card"  # a redirect through the card provider: its payment page


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
