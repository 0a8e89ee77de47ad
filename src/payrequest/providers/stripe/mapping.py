"""Stripe names <-> neutral names, and the sentences staff read. Tables, not if-chains."""

from __future__ import annotations

from payrequest.errors import N_

# The events a registered endpoint asks for (docs/stripe.md#the-stripe-adapter). events.READERS
# also reads `charge.refunded` when it comes, but it is not asked for: its charge need not
# carry our reference, while a refund we make carries it in its metadata.
WEBHOOK_EVENTS: tuple[str, ...] = (
    "checkout.session.completed",
    "checkout.session.expired",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "refund.created",
    "refund.updated",
)

# Languages of Stripe's hosted page we pass on; any other (or none) is "auto" (the browser's).
LOCALES: frozenset[str] = frozenset({"nb", "da", "en", "sv", "fi"})

# Why a card attempt failed, in plain words (English msgids, translated where shown). Any other
# reason reads as the generic decline.
DECLINED = N_("The card was declined.")
DECLINE_MESSAGES: dict[str, str] = {
    "insufficient_funds": N_("The card was declined: not enough money on the account."),
    "expired_card": N_("The card was declined: it has expired."),
}

# Refusals staff can act on, by Stripe's error code.
KEY_REFUSED = N_(
    "Stripe did not accept the secret key. Check the Stripe secret key, and that it belongs to "
    "this environment (test or live)."
)
KEY_NOT_ALLOWED = N_(
    "The Stripe key is not allowed to do this. Use a secret key, or give the restricted key "
    "write access to Checkout Sessions, Refunds and webhook endpoints."
)
OVER_REFUND = N_("Stripe refused the refund: it is more than what is left of the payment.")
NOT_PAID = N_("Stripe has not received this card payment, so it cannot be captured or refunded.")
OVER_CAPTURE = N_("Stripe refused the capture: it is more than the card payment.")
REDIRECT_ONLY = N_("Stripe takes card payments through a payment link only.")
STAFF_MESSAGES: dict[str, str] = {
    "amount_too_small": N_("The amount is below the minimum Stripe accepts in this currency."),
    "amount_too_large": N_("The amount is above the maximum Stripe accepts."),
    "charge_already_refunded": OVER_REFUND,
}
