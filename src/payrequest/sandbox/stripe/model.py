"""The emulator's objects, one dataclass per Stripe resource, kept per account in memory.

They hold the state; `render` turns them into Stripe's JSON. Times are Unix seconds on the
emulator's clock; amounts are integers in the currency's minor unit.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from payrequest.sandbox.stripe.cards import Decline

ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    """`pi_` + 24 letters and digits, as Stripe's ids look (clients treat them as opaque)."""
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(length))


@dataclass
class Card:
    """The card a payment was tried with (never the full number)."""

    brand: str
    last4: str
    exp_month: int
    exp_year: int
    country: str
    funding: str
    payment_method: str = field(default_factory=lambda: new_id("pm_"))


@dataclass
class LineItem:
    id: str
    name: str
    description: str | None
    currency: str
    unit_amount: int
    quantity: int
    price_id: str = field(default_factory=lambda: new_id("price_"))
    product_id: str = field(default_factory=lambda: new_id("prod_", 14))

    @property
    def amount(self) -> int:
        return self.unit_amount * self.quantity


@dataclass
class Session:
    id: str
    created: int
    started: datetime  # on the emulator clock: the expiry sweep measures from here
    lifetime: float  # nominal seconds from `created` to `expires_at`
    expires_at: int
    currency: str
    line_items: list[LineItem]
    url: str  # the hosted page, absolute, with the mount prefix
    success_url: str | None
    cancel_url: str | None
    client_reference_id: str | None
    customer_email: str | None
    locale: str | None
    metadata: dict[str, str]
    intent_metadata: dict[str, str]
    intent_description: str | None
    payment_method_types: list[str]
    status: str = "open"
    payment_status: str = "unpaid"
    payment_intent: str | None = None
    customer_name: str | None = None
    paid_email: str | None = None

    @property
    def amount_total(self) -> int:
        return sum(item.amount for item in self.line_items)


@dataclass
class PaymentIntent:
    id: str
    created: int
    amount: int
    currency: str
    session_id: str
    metadata: dict[str, str]
    description: str | None
    payment_method_types: list[str]
    status: str = "requires_payment_method"
    client_secret: str = ""
    latest_charge: str | None = None
    payment_method: str | None = None
    last_payment_error: dict[str, Any] | None = None
    next_action: dict[str, Any] | None = None
    amount_received: int = 0
    canceled_at: int | None = None
    cancellation_reason: str | None = None
    receipt_email: str | None = None
    pending_card: Card | None = None  # the card waiting for its 3-D Secure step
    pending_then: Decline | None = None  # what that card does once authenticated

    def __post_init__(self) -> None:
        if not self.client_secret:
            self.client_secret = f"{self.id}_secret_{new_id('', 25)}"


@dataclass
class Charge:
    id: str
    created: int
    amount: int
    currency: str
    payment_intent: str
    card: Card
    status: str  # succeeded | failed
    billing_email: str | None = None
    billing_name: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    decline_code: str | None = None
    amount_refunded: int = 0
    balance_transaction: str | None = None

    @property
    def refundable(self) -> int:
        return self.amount - self.amount_refunded if self.status == "succeeded" else 0


@dataclass
class Refund:
    id: str
    created: int
    amount: int
    currency: str
    charge: str
    payment_intent: str
    reason: str | None
    metadata: dict[str, str]
    status: str = "succeeded"


@dataclass
class WebhookEndpoint:
    id: str
    created: int
    url: str
    enabled_events: list[str]
    secret: str
    api_version: str | None
    description: str | None
    metadata: dict[str, str]
    status: str = "enabled"

    def wants(self, event_type: str) -> bool:
        return self.status == "enabled" and (
            "*" in self.enabled_events or event_type in self.enabled_events
        )


@dataclass
class Event:
    id: str
    type: str
    created: int
    api_version: str
    object: dict[str, Any]  # the resource as it was when the event happened
    request_id: str | None
    idempotency_key: str | None
    previous_attributes: dict[str, Any] | None = None


@dataclass
class Delivery:
    """One event to one endpoint: pending until answered 2xx, retried on the schedule."""

    id: int
    account: str  # the account's secret key
    event_id: str
    endpoint_id: str
    body: bytes
    status: str  # pending | delivered | failed | dropped
    due: float  # time.monotonic() of the next attempt
    attempts: int = 0
    last_result: str | None = None
