"""Checkout Session parameters and answers. Pure functions, no I/O
(docs/stripe.md#creating-the-session)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from payrequest.kit.money import Money
from payrequest.providers.base import (
    CreatePayment,
    OrderLine,
    PaymentSnapshot,
    ProviderError,
    ProviderState,
)
from payrequest.providers.stripe.mapping import LOCALES

# Stripe's window for `expires_at`, narrowed by a minute at each end for the time the call
# takes and clocks that differ.
SHORTEST = timedelta(minutes=31)
LONGEST = timedelta(hours=24) - timedelta(minutes=1)
MAX_LINE_ITEMS = 100
MAX_QUANTITY = 999_999
NAME_MAX_LENGTH = 250
SESSION_ID = "session_id={CHECKOUT_SESSION_ID}"  # Stripe puts the session's id in its place
CANCELLED = "cancelled=1"


def session_params(request: CreatePayment, *, now: datetime) -> dict[str, Any]:
    """The create parameters of the request's Checkout Session. `return_url` is required:
    the payer comes back there, paid (`session_id=…`) or not (`cancelled=1`)."""
    if not request.return_url:
        raise ProviderError("a Stripe payment needs a return URL")
    metadata = {**request.metadata, "reference": request.reference}
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": line_items(request),
        "client_reference_id": request.reference,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata, "description": request.description},
        "locale": request.locale if request.locale in LOCALES else "auto",
        "success_url": with_query(request.return_url, SESSION_ID),
        "cancel_url": with_query(request.return_url, CANCELLED),
    }
    if request.email:
        params["customer_email"] = request.email
    if request.expires_at is not None:
        params["expires_at"] = expiry(request.expires_at, now=now)
    return params


def create_key(request: CreatePayment, params: dict[str, Any]) -> str:
    """The create's idempotency key: the request's, unless its expiry had to be moved into
    Stripe's window. A moved expiry depends on the time of sending, and Stripe refuses a key
    sent again with other parameters; so the key names the expiry sent. A retry whose answer
    was lost then makes a second session, which nobody can pay: its link never reached us."""
    sent = params.get("expires_at")
    if request.expires_at is None or sent == int(request.expires_at.timestamp()):
        return request.idempotency_key
    return f"{request.idempotency_key}:expires-{sent}"


def expiry(wanted: datetime, *, now: datetime) -> int:
    """`wanted` as Unix seconds, moved into Stripe's 30 minutes – 24 hours from `now`."""
    clamped = min(max(wanted, now + SHORTEST), now + LONGEST)
    return int(clamped.timestamp())


def with_query(url: str, extra: str) -> str:
    """`url` with `extra` added to its query string (before any fragment), left unencoded."""
    parts = urlsplit(url)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


def line_items(request: CreatePayment) -> list[dict[str, Any]]:
    """One item per receipt line when the lines add up to the amount; otherwise (or with no
    lines, a negative line, or more than Stripe takes) one item of the whole amount."""
    lines = request.order_lines
    currency = request.amount.currency.lower()
    fits = (
        0 < len(lines) <= MAX_LINE_ITEMS
        and sum(line.total for line in lines) == request.amount.amount
        and all(line.total >= 0 for line in lines)
    )
    if not fits:
        return [_item(currency, request.description or request.reference, request.amount.amount)]
    return [_line(currency, line) for line in lines]


def _line(currency: str, line: OrderLine) -> dict[str, Any]:
    """A receipt line as an item: its unit price × quantity when that is exactly its total,
    else one unit at the total with the quantity in front of the name."""
    quantity = whole_quantity(line.quantity)
    name = line.name or line.line_id
    if quantity is not None and line.unit_price_including_tax * quantity == line.total:
        return _item(currency, name, line.unit_price_including_tax, quantity)
    label = line.quantity_label or line.quantity
    return _item(currency, f"{label} × {name}", line.total)


def whole_quantity(quantity: str) -> int | None:
    """The quantity as a whole number Stripe takes (1 – 999 999); None when it is not one."""
    try:
        value = Decimal(quantity)
    except InvalidOperation:
        return None
    if not value.is_finite() or value != value.to_integral_value():
        return None
    whole = int(value)
    return whole if 1 <= whole <= MAX_QUANTITY else None


def _item(currency: str, name: str, unit_amount: int, quantity: int = 1) -> dict[str, Any]:
    return {
        "price_data": {
            "currency": currency,
            "unit_amount": unit_amount,
            "product_data": {"name": name[:NAME_MAX_LENGTH]},
        },
        "quantity": quantity,
    }


def reference_of(session: dict[str, Any]) -> str:
    """Our reference: the session's `client_reference_id`, else its metadata's `reference`."""
    metadata = session.get("metadata") or {}
    reference = session.get("client_reference_id") or metadata.get("reference")
    if not isinstance(reference, str) or not reference:
        raise ProviderError(f"Stripe session {session.get('id')} carries no reference of ours")
    return reference


def snapshot(session: dict[str, Any]) -> PaymentSnapshot:
    """A session retrieved with its PaymentIntent and that one's latest charge expanded.

    open -> created; complete and paid -> authorized with the whole amount captured (Checkout
    captures at once); complete but unpaid (a delayed payment method) -> created; expired ->
    expired, whatever ended it (cancel() says terminated itself). Refunded: the charge's
    `amount_refunded`."""
    status, paid = session.get("status"), session.get("payment_status") == "paid"
    total = int(session["amount_total"])
    intent = session.get("payment_intent")
    intent = intent if isinstance(intent, dict) else None
    if status == "open" or (status == "complete" and not paid):
        state = ProviderState.created
    elif status == "complete":
        state = ProviderState.authorized
    elif status == "expired":
        state = ProviderState.expired
    else:
        raise ProviderError(f"unknown Checkout Session status {status!r}")
    captured = total if state is ProviderState.authorized else 0
    charge = intent.get("latest_charge") if intent else None
    refunded = int(charge.get("amount_refunded") or 0) if isinstance(charge, dict) else 0
    return PaymentSnapshot(
        reference=reference_of(session),
        state=state,
        amount=Money(total, str(session["currency"]).upper()),
        authorized=captured,
        captured=captured,
        cancelled=0,
        refunded=min(refunded, captured),
        psp_reference=intent_id(session) or str(session["id"]),
    )


def intent_id(session: dict[str, Any]) -> str | None:
    """The id of the session's PaymentIntent, expanded or not (None before a first attempt)."""
    intent = session.get("payment_intent")
    if isinstance(intent, dict):
        return str(intent["id"])
    return intent if isinstance(intent, str) and intent else None
