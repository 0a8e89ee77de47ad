"""Stripe's test cards and what paying with each does (docs/stripe.md#test-cards).

`outcome(number)` says what a card number does: succeed, decline (with Stripe's `code`,
`decline_code` and message), or ask for a 3-D Secure step first (`then` is what happens after
the payer completes it). A number that fails the Luhn check is `incorrect_number`; any other
valid number is refused as a real card would be in test mode.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decline:
    code: str
    message: str
    decline_code: str | None = None


@dataclass(frozen=True)
class Outcome:
    brand: str
    country: str = "US"
    funding: str = "credit"
    decline: Decline | None = None
    three_d_secure: bool = False
    then: Decline | None = None  # after a completed 3-D Secure step


DECLINED = "Your card was declined."
GENERIC = Decline("card_declined", DECLINED, "generic_decline")
INSUFFICIENT = Decline("card_declined", "Your card has insufficient funds.", "insufficient_funds")
TEST_CARDS: dict[str, Outcome] = {
    "4242424242424242": Outcome("visa"),
    "4000056655665556": Outcome("visa", funding="debit"),
    "5555555555554444": Outcome("mastercard"),
    "4000057800000007": Outcome("visa", country="NO"),
    "4000020800000001": Outcome("visa", country="DK"),
    "4000075200000008": Outcome("visa", country="SE"),
    "4000024600000001": Outcome("visa", country="FI"),
    "4000000000000002": Outcome("visa", decline=GENERIC),
    "4000000000009995": Outcome("visa", decline=INSUFFICIENT),
    "4000000000009987": Outcome("visa", decline=Decline("card_declined", DECLINED, "lost_card")),
    "4000000000009979": Outcome("visa", decline=Decline("card_declined", DECLINED, "stolen_card")),
    "4000000000006975": Outcome(
        "visa", decline=Decline("card_declined", DECLINED, "card_velocity_exceeded")
    ),
    "4000000000000069": Outcome("visa", decline=Decline("expired_card", "Your card has expired.")),
    "4000000000000127": Outcome(
        "visa", decline=Decline("incorrect_cvc", "Your card's security code is incorrect.")
    ),
    "4000000000000119": Outcome(
        "visa",
        decline=Decline(
            "processing_error",
            "An error occurred while processing your card. Try again in a little bit.",
        ),
    ),
    "4000002760003184": Outcome("visa", country="IE", three_d_secure=True),
    "4000002500003155": Outcome("visa", country="IE", three_d_secure=True),
    "4000000000003220": Outcome("visa", three_d_secure=True),
    "4000008260003178": Outcome("visa", country="IE", three_d_secure=True, then=INSUFFICIENT),
}
LIVE_CARD_IN_TEST = Decline(
    "card_declined",
    "Your card was declined. Your request was in test mode, but used a non test (live) card. "
    "For a list of valid test cards, visit: https://stripe.com/docs/testing.",
    "test_mode_live_card",
)
AUTHENTICATION_FAILED = Decline(
    "payment_intent_authentication_failure",
    "We are unable to authenticate your payment method. Please choose a different payment "
    "method and try again.",
)


def digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def luhn_ok(number: str) -> bool:
    total = 0
    for index, ch in enumerate(reversed(number)):
        value = int(ch)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return len(number) >= 12 and total % 10 == 0


def outcome(number: str) -> Outcome | Decline:
    """What paying with this card number does; a `Decline` alone when the number itself is
    wrong (no payment is tried then)."""
    if not luhn_ok(number):
        return Decline("incorrect_number", "Your card number is incorrect.")
    known = TEST_CARDS.get(number)
    if known is not None:
        return known
    return Outcome("visa" if number.startswith("4") else "unknown", decline=LIVE_CARD_IN_TEST)
