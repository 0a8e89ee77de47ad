"""What happens to a session and its payment: the payer's card attempts and 3-D Secure step,
expiry, and what the API may do afterwards (cancel, refund) (docs/stripe.md#state-model).

A session is `open` until it is `complete` (paid) or `expired`. Its PaymentIntent is made at
the first attempt: `requires_payment_method` -> (`requires_action` during 3-D Secure) ->
`succeeded`, or `canceled` when the session expires unpaid. A declined attempt leaves a failed
charge and `last_payment_error`, and the payer may try another card. Captures are automatic.
Every change emits its events with a snapshot of the object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from payrequest.sandbox.stripe import render
from payrequest.sandbox.stripe.cards import AUTHENTICATION_FAILED, Decline, outcome
from payrequest.sandbox.stripe.model import Card, Charge, PaymentIntent, Session, new_id

if TYPE_CHECKING:
    from payrequest.sandbox.stripe.emulator import Account, Origin, StripeEmulator


@dataclass(frozen=True)
class Attempt:
    """What the payer's attempt came to: `paid`, `declined` (with the decline), `action`
    (a 3-D Secure step waits) or `invalid` (the card details are wrong; nothing was tried)."""

    result: str
    decline: Decline | None = None


@dataclass(frozen=True)
class CardForm:
    number: str
    exp_month: int
    exp_year: int
    cvc: str
    email: str | None
    name: str | None


def pay(emu: StripeEmulator, account: Account, session: Session, form: CardForm) -> Attempt:
    """The payer submits the card form of an open session."""
    found = outcome(form.number)
    if isinstance(found, Decline):
        return Attempt("invalid", found)
    intent = _intent_of(emu, account, session)
    session.paid_email = form.email or session.customer_email
    session.customer_name = form.name
    card = Card(
        brand=found.brand,
        last4=form.number[-4:],
        exp_month=form.exp_month,
        exp_year=form.exp_year,
        country=found.country,
        funding=found.funding,
    )
    if found.decline is not None:
        _decline(emu, account, intent, card, found.decline, session)
        return Attempt("declined", found.decline)
    if found.three_d_secure:
        intent.status = "requires_action"
        intent.pending_card = card
        intent.pending_then = found.then
        intent.payment_method = card.payment_method
        intent.next_action = {
            "type": "redirect_to_url",
            "redirect_to_url": {
                "return_url": session.url,
                "url": f"{session.url}/authenticate",
            },
        }
        emu.emit(account, "payment_intent.requires_action", render.payment_intent(intent))
        return Attempt("action")
    _succeed(emu, account, intent, card, session)
    return Attempt("paid")


def authenticate(
    emu: StripeEmulator, account: Account, session: Session, completed: bool
) -> Attempt:
    """The payer completes or fails the 3-D Secure step of the session's payment."""
    intent = account.intents.get(session.payment_intent or "")
    if intent is None or intent.status != "requires_action" or intent.pending_card is None:
        return Attempt("invalid", Decline("no_action", "Nothing to authenticate."))
    card, decline = intent.pending_card, intent.pending_then
    intent.pending_card, intent.pending_then, intent.next_action = None, None, None
    if not completed:
        _fail_intent(emu, account, intent, AUTHENTICATION_FAILED, card, None)
        return Attempt("declined", AUTHENTICATION_FAILED)
    if decline is not None:
        _decline(emu, account, intent, card, decline, session)
        return Attempt("declined", decline)
    _succeed(emu, account, intent, card, session)
    return Attempt("paid")


def expire(emu: StripeEmulator, account: Account, session: Session, origin: Origin) -> None:
    """An open session expires (at `expires_at`, or by the expire call): its unpaid payment is
    canceled, then `checkout.session.expired`."""
    session.status = "expired"
    intent = account.intents.get(session.payment_intent or "")
    if intent is not None and intent.status in CANCELABLE:
        intent.pending_card, intent.pending_then, intent.next_action = None, None, None
        intent.status = "canceled"
        intent.canceled_at = emu.timestamp()
        intent.cancellation_reason = "abandoned"
        emu.emit(account, "payment_intent.canceled", render.payment_intent(intent), origin)
    emu.emit(account, "checkout.session.expired", render.session(session), origin)


def expire_if_due(emu: StripeEmulator, account: Account, session: Session) -> None:
    """Expire an open session whose lifetime has passed on the (sped-up) clock."""
    if session.status != "open":
        return
    if emu.clock.elapsed_nominal(session.started).total_seconds() >= session.lifetime:
        from payrequest.sandbox.stripe.emulator import NO_REQUEST

        expire(emu, account, session, NO_REQUEST)


CANCELABLE = frozenset({"requires_payment_method", "requires_confirmation", "requires_action"})


def _intent_of(emu: StripeEmulator, account: Account, session: Session) -> PaymentIntent:
    """The session's PaymentIntent, made at the payer's first attempt."""
    known = account.intents.get(session.payment_intent or "")
    if known is not None:
        return known
    intent = PaymentIntent(
        id=new_id("pi_"),
        created=emu.timestamp(),
        amount=session.amount_total,
        currency=session.currency,
        session_id=session.id,
        metadata=dict(session.intent_metadata),
        description=session.intent_description,
        payment_method_types=list(session.payment_method_types),
    )
    account.intents[intent.id] = intent
    session.payment_intent = intent.id
    emu.emit(account, "payment_intent.created", render.payment_intent(intent))
    return intent


def _charge(
    emu: StripeEmulator, intent: PaymentIntent, card: Card, session: Session, status: str
) -> Charge:
    return Charge(
        id=new_id("ch_"),
        created=emu.timestamp(),
        amount=intent.amount,
        currency=intent.currency,
        payment_intent=intent.id,
        card=card,
        status=status,
        billing_email=session.paid_email,
        billing_name=session.customer_name,
    )


def _succeed(
    emu: StripeEmulator, account: Account, intent: PaymentIntent, card: Card, session: Session
) -> None:
    charge = _charge(emu, intent, card, session, "succeeded")
    charge.balance_transaction = new_id("txn_")
    account.charges[charge.id] = charge
    intent.status = "succeeded"
    intent.amount_received = intent.amount
    intent.latest_charge = charge.id
    intent.payment_method = card.payment_method
    intent.last_payment_error = None
    intent.receipt_email = session.paid_email
    session.status = "complete"
    session.payment_status = "paid"
    emu.emit(account, "charge.succeeded", render.charge(charge))
    emu.emit(account, "payment_intent.succeeded", render.payment_intent(intent))
    emu.emit(account, "checkout.session.completed", render.session(session))


def _decline(
    emu: StripeEmulator,
    account: Account,
    intent: PaymentIntent,
    card: Card,
    decline: Decline,
    session: Session,
) -> None:
    charge = _charge(emu, intent, card, session, "failed")
    charge.failure_code = decline.code
    charge.failure_message = decline.message
    charge.decline_code = decline.decline_code
    account.charges[charge.id] = charge
    emu.emit(account, "charge.failed", render.charge(charge))
    _fail_intent(emu, account, intent, decline, card, charge)


def _fail_intent(
    emu: StripeEmulator,
    account: Account,
    intent: PaymentIntent,
    decline: Decline,
    card: Card,
    charge: Charge | None,
) -> None:
    """The attempt failed: the intent waits for another payment method and says why."""
    error: dict[str, object] = {
        "type": "card_error",
        "code": decline.code,
        "message": decline.message,
        "doc_url": "https://stripe.com/docs/error-codes/" + decline.code.replace("_", "-"),
        "payment_method": render.payment_method(card, intent.created, None),
    }
    if decline.decline_code:
        error["decline_code"] = decline.decline_code
    if charge is not None:
        error["charge"] = charge.id
        intent.latest_charge = charge.id
    intent.status = "requires_payment_method"
    intent.payment_method = None
    intent.last_payment_error = error
    emu.emit(account, "payment_intent.payment_failed", render.payment_intent(intent))
