"""The fake provider's payments: one state machine in the neutral vocabulary (providers.base).

A payment starts `created` and ends in exactly one of `authorized`, `aborted`, `expired` or
`terminated`; after `authorized` only the amounts move (captured, cancelled, refunded). Every
change appends one event to the payment's log, which is also what its webhooks carry. Refusals
are the neutral errors: a call that is refused changes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from payrequest.kit.money import Money
from payrequest.providers.base import (
    AlreadyAuthorized,
    CreatePayment,
    EventName,
    PaymentNotFound,
    PaymentSnapshot,
    ProviderError,
    ProviderEvent,
    ProviderState,
)

CONFLICT = 409  # the HTTP status a real provider gives these refusals; kept for log lines
FINAL = frozenset({ProviderState.aborted, ProviderState.expired, ProviderState.terminated})


class ControlRefused(Exception):
    """A test control that does not fit the payment's state (approving an expired payment)."""


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


@dataclass
class FakePayment:
    reference: str
    provider_reference: str
    request: CreatePayment
    expires_at: datetime
    state: ProviderState = ProviderState.created
    authorized: int = 0
    captured: int = 0
    cancelled: int = 0
    refunded: int = 0
    decline_reason: str | None = None
    events: list[ProviderEvent] = field(default_factory=list)

    @property
    def amount(self) -> Money:
        return self.request.amount

    def snapshot(self) -> PaymentSnapshot:
        return PaymentSnapshot(
            reference=self.reference,
            state=self.state,
            amount=self.amount,
            authorized=self.authorized,
            captured=self.captured,
            cancelled=self.cancelled,
            refunded=self.refunded,
            psp_reference=self.provider_reference,
        )


def refused(message: str, code: str) -> ProviderError:
    """A definite refusal of this call: sending it again changes nothing."""
    return ProviderError(message, status=CONFLICT, code=code)


class Ledger:
    """Every payment of one fake account, by our reference, and the moves between states."""

    def __init__(
        self,
        merchant_id: str,
        now: Callable[[], datetime],
        on_event: Callable[[FakePayment, ProviderEvent], None],
    ) -> None:
        self.merchant_id = merchant_id
        self.now = now
        self.on_event = on_event
        self.payments: dict[str, FakePayment] = {}
        self.by_provider_reference: dict[str, str] = {}

    # --- lookup ------------------------------------------------------------------------

    def find(self, reference: str) -> FakePayment:
        """The payment with our reference (or the fake's own `fake_...` key for it); an open
        payment whose time ran out is expired first, as a provider's poll would show it."""
        ours = self.by_provider_reference.get(reference, reference)
        payment = self.payments.get(ours)
        if payment is None:
            raise PaymentNotFound(f"no payment {reference}", status=404, code="not_found")
        if payment.state is ProviderState.created and self.now() >= payment.expires_at:
            self.finish(payment, ProviderState.expired, EventName.expired)
        return payment

    # --- moves -------------------------------------------------------------------------

    def create(self, request: CreatePayment, expires_at: datetime, key: str) -> FakePayment:
        payment = FakePayment(
            reference=request.reference,
            provider_reference=new_id("fake"),
            request=request,
            expires_at=expires_at,
        )
        self.payments[payment.reference] = payment
        self.by_provider_reference[payment.provider_reference] = payment.reference
        self.record(payment, EventName.created, payment.amount.amount, key)
        return payment

    def authorize(self, payment: FakePayment) -> None:
        self._control_open(payment, "approve")
        payment.state = ProviderState.authorized
        payment.authorized = payment.amount.amount
        self.record(payment, EventName.authorized, payment.authorized)

    def finish(
        self, payment: FakePayment, state: ProviderState, name: EventName, key: str | None = None
    ) -> None:
        payment.state = state
        self.record(payment, name, payment.amount.amount, key)

    def decline(self, payment: FakePayment, reason: str) -> None:
        self._control_open(payment, "decline")
        payment.decline_reason = reason
        self.finish(payment, ProviderState.aborted, EventName.aborted)

    def expire(self, payment: FakePayment) -> None:
        self._control_open(payment, "expire")
        self.finish(payment, ProviderState.expired, EventName.expired)

    def release(self, payment: FakePayment) -> None:
        """The reservation is given back (the payer's bank let it go): what was authorized and
        not captured becomes `cancelled`, and nothing more can be captured."""
        if payment.state is not ProviderState.authorized:
            raise ControlRefused(f"{payment.reference} is {payment.state}, not authorized")
        remainder = payment.authorized - payment.captured - payment.cancelled
        if remainder > 0:
            payment.cancelled += remainder
            self.record(payment, EventName.cancelled, remainder)

    def cancel(self, payment: FakePayment, key: str) -> None:
        """Cancel a payment nobody approved; never release an authorization."""
        if payment.state is ProviderState.authorized:
            raise AlreadyAuthorized(
                f"{payment.reference} was approved before the cancel",
                status=CONFLICT,
                code="already_authorized",
            )
        if payment.state in FINAL:
            raise refused(f"{payment.reference} is already {payment.state}", "not_open")
        payment.cancelled = payment.amount.amount
        self.finish(payment, ProviderState.terminated, EventName.terminated, key)

    def capture(self, payment: FakePayment, amount: Money, key: str) -> None:
        self._check_amount(payment, amount)
        if payment.state is not ProviderState.authorized:
            raise refused(f"{payment.reference} is {payment.state}: nothing to capture", "state")
        if payment.cancelled:
            raise refused(f"{payment.reference}: the authorization was released", "released")
        left = payment.authorized - payment.captured
        if amount.amount > left:
            raise refused(f"capture of {amount.amount} is above the {left} left", "too_much")
        payment.captured += amount.amount
        self.record(payment, EventName.captured, amount.amount, key)

    def refund(self, payment: FakePayment, amount: Money, key: str) -> None:
        self._check_amount(payment, amount)
        left = payment.captured - payment.refunded
        if amount.amount > left:
            raise refused(f"refund of {amount.amount} is above the {left} captured", "too_much")
        payment.refunded += amount.amount
        self.record(payment, EventName.refunded, amount.amount, key)

    # --- helpers -----------------------------------------------------------------------

    def record(
        self, payment: FakePayment, name: EventName, value: int, key: str | None = None
    ) -> None:
        created = name is EventName.created
        event = ProviderEvent(
            reference=payment.reference,
            name=name,
            psp_reference=payment.provider_reference if created else new_id("fake_evt"),
            amount=Money(value, payment.amount.currency),
            occurred_at=self.now(),
            success=True,
            idempotency_key=key,
            merchant_id=self.merchant_id,
        )
        payment.events.append(event)
        self.on_event(payment, event)

    @staticmethod
    def _check_amount(payment: FakePayment, amount: Money) -> None:
        if amount.currency != payment.amount.currency:
            raise refused(f"the payment is in {payment.amount.currency}", "currency")
        if amount.amount <= 0:
            raise refused("the amount must be positive", "amount")

    def _control_open(self, payment: FakePayment, what: str) -> None:
        if payment.state is not ProviderState.created:
            raise ControlRefused(f"cannot {what} {payment.reference}: it is {payment.state}")
