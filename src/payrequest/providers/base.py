"""The neutral provider interface: what the payment flow needs from Vipps MobilePay, Stripe, ..."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from payrequest.kit.money import Money


class ProviderState(StrEnum):
    """Where the payment stands at the provider."""

    created = "created"  # waiting for the customer
    authorized = "authorized"  # approved; money reserved (captured/refunded move amounts only)
    aborted = "aborted"  # the customer said no
    expired = "expired"  # nobody approved in time
    terminated = "terminated"  # we cancelled before approval


class EventName(StrEnum):
    """What happened to a payment, as one provider event."""

    created = "created"
    authorized = "authorized"
    aborted = "aborted"
    expired = "expired"
    terminated = "terminated"
    cancelled = "cancelled"  # what was left of an authorization was released
    captured = "captured"
    refunded = "refunded"


class UserFlow(StrEnum):
    push = "push"  # a push message to the phone number
    qr = "qr"  # a QR code to scan
    redirect = "redirect"  # a link that opens the app or a landing page


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One receipt line, amounts in minor units of the payment's currency.

    `total` is exact and the lines add up to the payment's amount; the unit price is the
    price of one unit including VAT, rounded, so unit price × quantity is about `total`."""

    line_id: str
    name: str
    quantity: str  # decimal string, e.g. "1.5"
    unit_price_including_tax: int
    total: int  # including VAT
    total_excluding_tax: int
    tax_amount: int
    tax_rate_bp: int  # hundredths of a percent: 2550 = 25.5 %
    quantity_label: str = ""  # the quantity as the customer reads it ("1 234 567,125")


@dataclass(frozen=True, slots=True)
class CreatePayment:
    reference: str
    amount: Money
    description: str
    user_flow: UserFlow
    idempotency_key: str
    phone_msisdn: str | None = None
    expires_at: datetime | None = None  # None: the provider's standard lifetime
    return_url: str | None = None
    order_lines: Sequence[OrderLine] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    share_phone: bool = False  # ask the payer to share their phone number (with consent)
    # The payer's language on a hosted payment page ("nb", "da", "en"); None: the
    # provider follows the browser. Vipps MobilePay's app has its own and ignores it.
    locale: str | None = None
    email: str | None = None  # prefilled on a hosted payment page (Stripe Checkout)


@dataclass(frozen=True, slots=True)
class CreatedPayment:
    reference: str
    redirect_url: str | None  # app/landing link, or QR image/target for the QR flow
    # The provider's own key of the payment when it is not our reference (a Stripe Checkout
    # Session's `cs_...`); None: the provider keys the payment by our reference (Vipps).
    provider_reference: str | None = None

    @property
    def key_at_provider(self) -> str:
        """What the provider calls this payment."""
        return self.provider_reference or self.reference


@dataclass(frozen=True, slots=True)
class PaymentSnapshot:
    """The provider's current view of one payment (what a poll returns); `reference` is
    ours (the payment request's)."""

    reference: str
    state: ProviderState
    amount: Money
    authorized: int
    captured: int
    cancelled: int
    refunded: int
    psp_reference: str | None = None
    payer_phone: str | None = None  # E.164, when the payer shared it (see CreatePayment)


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One thing that happened (a webhook, or an entry of the event log). `reference` is
    always ours (the payment request's), whatever the provider keys the payment by."""

    reference: str
    name: EventName
    psp_reference: str
    amount: Money
    occurred_at: datetime
    success: bool
    idempotency_key: str | None = None
    merchant_id: str | None = None  # the account at the provider (Vipps: the MSN)
    event_id: str | None = None  # the provider's own id of the event, if it has one
    # Why an unsuccessful attempt failed (success False): a neutral reason code as in
    # Declined.reason (`insufficient_funds`, `card_declined`, ...); None when not told.
    reason: str | None = None
    # The failure in plain words for staff and the payer (an English msgid, translated where
    # it is shown); None: the flow's generic words.
    message: str | None = None

    @property
    def dedupe_key(self) -> str:
        """What a second delivery of the same event is known by: the provider's id of the
        event, else what it is about (account, payment, operation and what happened)."""
        if self.event_id:
            return self.event_id
        return ":".join(
            (self.merchant_id or "", self.reference, self.psp_reference, self.name.value)
        )


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the account at the provider allows. A long-living request (one with its own
    expiry) must live longer than `min_lifetime_minutes` and at most `max_lifetime_minutes`,
    and only the flows in `long_living_flows` may have one; the others get the standard
    lifetime (`min_lifetime_minutes`)."""

    push: bool = True
    qr: bool = True
    redirect: bool = True
    long_living: bool = False
    max_lifetime_minutes: int = 10
    min_lifetime_minutes: int = 10
    long_living_flows: frozenset[UserFlow] = frozenset({UserFlow.push, UserFlow.qr})
    refunds: bool = True
    currencies: frozenset[str] = frozenset({"NOK", "DKK", "EUR"})  # what the account takes

    def offers(self, flow: UserFlow) -> bool:
        """Whether the account reaches the payer this way."""
        return {UserFlow.push: self.push, UserFlow.qr: self.qr, UserFlow.redirect: self.redirect}[
            flow
        ]


class AccountRefusal(StrEnum):
    """A refusal about what the account at the provider may do, not about one payment: the
    same request is refused again until the account, or our settings, change."""

    long_living = "long_living"  # not approved for requests with a longer expiry of their own
    push = "push"  # not approved for push requests
    partial_capture = "partial_capture"  # captures only the whole amount
    no_payments = "no_payments"  # cannot receive payments yet (e.g. bank account not verified)


class ProviderError(Exception):
    """The provider refused or failed. `code` is the provider's own error code, if any;
    `refusal` says when the refusal is about the account rather than this payment."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        trace_id: str | None = None,
        retryable: bool = False,
        detail: str | None = None,
        refusal: AccountRefusal | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.trace_id = trace_id
        self.retryable = retryable
        self.detail = detail  # the provider's own words, untranslated, for support
        self.refusal = refusal

    def __str__(self) -> str:
        parts = [self.message]
        if self.detail:
            parts.append(self.detail)
        if self.code:
            parts.append(f"code {self.code}")
        if self.status:
            parts.append(f"HTTP {self.status}")
        if self.trace_id:
            parts.append(f"trace {self.trace_id}")
        return " · ".join(parts)


class PaymentNotFound(ProviderError):
    """The provider has no payment with this reference."""


class AlreadyAuthorized(ProviderError):
    """The call came too late: the payer approved the payment first (a cancel racing the
    approval). The payment is authorized and will be captured; nothing else changed."""


class Declined(ProviderError):
    """The payer's bank or card refused this payment. `reason` is a neutral reason code
    (`insufficient_funds`, `card_declined`, `expired_card`, `authentication_failed`, ...) and
    the message says it in plain words (a msgid, translated where it is shown)."""

    def __init__(self, message: str, *, reason: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason


class TryAgainLater(ProviderError):
    """The provider asked us to wait `retry_after` before sending this call again (a rate
    limit): the same call, with the same idempotency key, may be sent once that has passed."""

    def __init__(self, message: str, *, retry_after: timedelta, **kwargs: Any) -> None:
        super().__init__(message, retryable=True, **kwargs)
        self.retry_after = retry_after


class OutcomeUnknown(ProviderError):
    """We could not learn whether the call took effect (timeout, broken connection)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


class WebhookRejected(Exception):
    """A webhook that failed authentication or could not be read. Never applied."""


class WebhookUnreadable(WebhookRejected):
    """A webhook body that is not an event we can read. From `parse_webhook` it comes only
    after the signature held: an authentic event, kept as `unusable` and acknowledged."""


class WebhookSecretUnknown(WebhookRejected):
    """A webhook that is whole and on time but signed with a secret we do not hold: perhaps
    another registration of our address at the provider (not necessarily a forgery)."""


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    endpoint_id: str
    url: str


@runtime_checkable
class PaymentProvider(Protocol):
    name: str

    @property
    def merchant_id(self) -> str:
        """The sales unit / account at the provider (Vipps: the MSN)."""
        ...

    @property
    def capabilities(self) -> Capabilities: ...

    async def create_payment(self, request: CreatePayment) -> CreatedPayment: ...

    async def get_payment(self, reference: str) -> PaymentSnapshot: ...

    async def get_events(self, reference: str) -> list[ProviderEvent]: ...

    async def capture(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> PaymentSnapshot: ...

    async def cancel(self, reference: str, *, idempotency_key: str) -> PaymentSnapshot: ...

    async def refund(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> PaymentSnapshot: ...

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, secrets: Sequence[str]
    ) -> ProviderEvent:
        """Authenticate and read one webhook; raise WebhookRejected if it is not genuine,
        WebhookUnreadable if it is genuine but not an event we can read."""
        ...

    def read_event(self, body: bytes) -> ProviderEvent:
        """Read a webhook body that was authenticated before (a stored inbox row)."""
        ...

    async def list_webhooks(self) -> list[WebhookEndpoint]: ...

    async def register_webhook(self, url: str) -> tuple[str, str]:
        """Register `url` for every payment event; returns (endpoint id, signing secret)."""
        ...

    async def delete_webhook(self, endpoint_id: str) -> None: ...

    async def close(self) -> None: ...


class UnknownProvider(ProviderError):
    """A payment names a provider this installation does not have (or the organisation has
    not connected)."""


@runtime_checkable
class PaymentProviders(Protocol):
    """The providers the payment flow may call, chosen by the name a payment stored
    (`payment_requests.provider`, `webhook_inbox.provider`), never "the" provider."""

    async def named(self, name: str) -> PaymentProvider:
        """Provider `name` as the organisation the work is for connected it (db.scope).
        UnknownProvider if there is no such provider."""
        ...

    def reader(self, name: str) -> PaymentProvider:
        """A client of provider `name` for what needs no account: checking and reading
        webhooks. UnknownProvider if there is no such provider."""
        ...


class OneProvider:
    """`PaymentProviders` of a single provider (a process or a test with one client)."""

    def __init__(self, provider: PaymentProvider) -> None:
        self.provider = provider

    def reader(self, name: str) -> PaymentProvider:
        if name != self.provider.name:
            raise UnknownProvider(f"no provider named {name!r}")
        return self.provider

    async def named(self, name: str) -> PaymentProvider:
        return self.reader(name)
