"""API calls that change a payment after the payer is done: refunds and cancelling a
PaymentIntent (docs/stripe.md#refunds).

A refund names a `payment_intent` or a `charge`, takes `amount` (default: everything not yet
refunded), `reason` and `metadata`, and succeeds at once, as card refunds do in test mode.
Refunds of one charge never add up to more than was captured.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel.numbers import format_currency

from payrequest.sandbox.stripe import params as p
from payrequest.sandbox.stripe import render
from payrequest.sandbox.stripe.emulator import Account, Origin, StripeEmulator
from payrequest.sandbox.stripe.errors import StripeApiError, invalid, no_such, unexpected_state
from payrequest.sandbox.stripe.model import Charge, PaymentIntent, Refund, new_id

REFUND_PARAMS = ("payment_intent", "charge", "amount", "reason", "metadata", "expand")
REASONS = ("duplicate", "fraudulent", "requested_by_customer")
CANCEL_PARAMS = ("cancellation_reason", "expand")
CANCEL_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
CANCELABLE_LIST = (
    "requires_payment_method, requires_capture, requires_confirmation, requires_action, processing"
)


def money(amount: int, currency: str) -> str:
    return format_currency(Decimal(amount) / 100, currency.upper(), locale="en")


def create_refund(
    emu: StripeEmulator, account: Account, params: dict[str, Any], origin: Origin
) -> Refund:
    p.only(params, REFUND_PARAMS)
    charge = _refunded_charge(account, params)
    if charge.refundable == 0:
        raise StripeApiError(
            400,
            "invalid_request_error",
            f"Charge {charge.id} has already been refunded.",
            code="charge_already_refunded",
            stored=True,
        )
    amount = charge.refundable
    if "amount" in params:
        amount = p.integer(params["amount"], "amount", 1, p.MAX_AMOUNT)
        if amount > charge.refundable:
            raise invalid(
                f"Refund amount ({money(amount, charge.currency)}) is greater than unrefunded "
                f"amount on charge ({money(charge.refundable, charge.currency)})",
                "amount",
            )
    reason = p.text(params, "reason")
    if reason is not None and reason not in REASONS:
        raise invalid(f"Invalid reason: must be one of {', '.join(REASONS)}", "reason")
    refund = Refund(
        id=new_id("re_"),
        created=emu.timestamp(),
        amount=amount,
        currency=charge.currency,
        charge=charge.id,
        payment_intent=charge.payment_intent,
        reason=reason,
        metadata=p.metadata(params),
    )
    previous = {"amount_refunded": charge.amount_refunded, "refunded": False}
    charge.amount_refunded += amount
    account.refunds[refund.id] = refund
    emu.emit(account, "refund.created", render.refund(refund), origin)
    emu.emit(account, "charge.refunded", render.charge(charge), origin, previous)
    return refund


def _refunded_charge(account: Account, params: dict[str, Any]) -> Charge:
    intent_id = p.text(params, "payment_intent")
    charge_id = p.text(params, "charge")
    if intent_id is None and charge_id is None:
        raise invalid(
            "One of the following params should be provided for this request: payment_intent "
            "or charge.",
            code="parameter_missing",
        )
    if intent_id is not None and charge_id is not None:
        raise invalid(
            "Only one of payment_intent or charge may be given.",
            "charge",
            "parameters_exclusive",
        )
    if charge_id is not None:
        charge = account.charges.get(charge_id)
        if charge is None:
            raise no_such("charge", charge_id, "charge")
        if charge.status != "succeeded":
            raise invalid(
                f"Charge {charge.id} has not succeeded and cannot be refunded.",
                "charge",
                "charge_not_refundable",
            )
        return charge
    assert intent_id is not None
    intent = account.intents.get(intent_id)
    if intent is None:
        raise no_such("payment_intent", intent_id, "payment_intent")
    if intent.status != "succeeded" or intent.latest_charge is None:
        raise unexpected_state(
            f"This PaymentIntent ({intent.id}) does not have a successful charge to refund."
        )
    return account.charges[intent.latest_charge]


def cancel_intent(account: Account, intent: PaymentIntent, params: dict[str, Any]) -> PaymentIntent:
    """Stripe's rule for Checkout: the intent of an open session is not canceled directly
    (expire the session instead); a finished one cannot be canceled at all."""
    p.only(params, CANCEL_PARAMS)
    p.choice(params, "cancellation_reason", CANCEL_REASONS, "requested_by_customer")
    if intent.status in ("succeeded", "canceled"):
        raise unexpected_state(
            "You cannot cancel this PaymentIntent because it has a status of "
            f"{intent.status}. Only a PaymentIntent with one of the following statuses may be "
            f"canceled: {CANCELABLE_LIST}.",
            payment_intent=render.payment_intent(intent),
        )
    session = account.sessions.get(intent.session_id)
    if session is not None and session.status == "open":
        raise unexpected_state(
            "This PaymentIntent belongs to an open Checkout Session and cannot be canceled "
            f"directly. Expire the Checkout Session ({session.id}) instead.",
            payment_intent=render.payment_intent(intent),
        )
    return intent
