"""FakeProvider: the neutral PaymentProvider in memory, for domain tests.

It keeps payments by our reference and gives each its own key (`fake_<hex>`, the
`CreatedPayment.provider_reference`); every call is answered at once, with no HTTP. What it
does is what the provider contract (docs/providers.md#the-provider-contract) asks of every
adapter, and the test controls on the object play the payer, the clock and the network:

- `approve`, `decline`, `expire`, `release`: the payer approves or says no, the payment runs
  out of time, the payer's bank releases a reservation;
- `fail_next`: the next call (or the next call of one operation) fails (see `faults`);
- `pending_webhooks` / `emit_webhooks`: the signed webhooks the events caused, taken in order,
  twice or backwards on request.

Calls that change something take an idempotency key: the same key with the same call gives the
same answer and changes nothing more; the same key with another call is refused.
"""

from __future__ import annotations

import secrets as secret_tokens
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.providers.base import (
    AccountRefusal,
    Capabilities,
    CreatedPayment,
    CreatePayment,
    OutcomeUnknown,
    PaymentSnapshot,
    ProviderError,
    ProviderEvent,
    UserFlow,
    WebhookEndpoint,
)
from payrequest.providers.fake import webhooks
from payrequest.providers.fake.faults import Fault, FaultKind, Faults
from payrequest.providers.fake.ledger import FakePayment, Ledger, new_id, refused

REDIRECT_BASE = "https://fake-provider.invalid/pay/"


@dataclass
class _Answer:
    """What a key was first used for, and how that call ended."""

    operation: str
    reference: str
    fingerprint: str
    created: CreatedPayment | None = None
    error: ProviderError | None = None


@dataclass
class _Endpoint:
    endpoint_id: str
    url: str
    secret: str
    outbox: list[webhooks.Delivery] = field(default_factory=list)


class FakeProvider:
    name = "fake"

    def __init__(
        self,
        *,
        merchant_id: str = "fake-merchant",
        capabilities: Capabilities | None = None,
        full_capture_only: bool = False,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.merchant_id = merchant_id
        self.capabilities = capabilities or Capabilities()
        self.full_capture_only = full_capture_only
        self.now = now
        self.ledger = Ledger(merchant_id, now, self._send_event)
        self.faults = Faults()
        self.endpoints: dict[str, _Endpoint] = {}
        self.answers: dict[str, _Answer] = {}
        self.calls: list[str] = []  # every call made, by operation name, for assertions
        self.closed = False

    # --- PaymentProvider ----------------------------------------------------------------

    async def create_payment(self, request: CreatePayment) -> CreatedPayment:
        def create() -> CreatedPayment:
            existing = self.ledger.payments.get(request.reference)
            if existing is not None:
                first_key = existing.request.idempotency_key
                if existing.request != replace(request, idempotency_key=first_key):
                    raise refused(f"{request.reference} exists with other details", "exists")
                return self._created(existing)  # another attempt of ours got there first
            self._check_create(request)
            lifetime = timedelta(minutes=self.capabilities.min_lifetime_minutes)
            expires_at = request.expires_at or self.now() + lifetime
            payment = self.ledger.create(request, expires_at, request.idempotency_key)
            return self._created(payment)

        fingerprint = repr(replace(request, metadata=dict(request.metadata)))
        created = await self._keyed(
            "create", request.reference, request.idempotency_key, fingerprint, create
        )
        assert created is not None  # create always answers with the payment
        return created

    async def get_payment(self, reference: str) -> PaymentSnapshot:
        await self._call("get_payment")
        return self.ledger.find(reference).snapshot()

    async def get_events(self, reference: str) -> list[ProviderEvent]:
        await self._call("get_events")
        return list(self.ledger.find(reference).events)

    async def capture(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> PaymentSnapshot:
        def capture(payment: FakePayment) -> None:
            whole = payment.authorized - payment.captured
            if self.full_capture_only and payment.captured == 0 and amount.amount != whole:
                raise ProviderError(
                    "this account captures only the whole amount",
                    status=409,
                    code="partial_capture",
                    refusal=AccountRefusal.partial_capture,
                )
            self.ledger.capture(payment, amount, idempotency_key)

        return await self._modify("capture", reference, amount, idempotency_key, capture)

    async def cancel(self, reference: str, *, idempotency_key: str) -> PaymentSnapshot:
        def cancel(payment: FakePayment) -> None:
            self.ledger.cancel(payment, idempotency_key)

        return await self._modify("cancel", reference, None, idempotency_key, cancel)

    async def refund(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> PaymentSnapshot:
        def refund(payment: FakePayment) -> None:
            if not self.capabilities.refunds:
                raise refused("this account makes no refunds", "no_refunds")
            self.ledger.refund(payment, amount, idempotency_key)

        return await self._modify("refund", reference, amount, idempotency_key, refund)

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, secrets: Sequence[str]
    ) -> ProviderEvent:
        webhooks.verify(body, headers, secrets)
        return self.read_event(body)

    def read_event(self, body: bytes) -> ProviderEvent:
        return webhooks.read(body)

    async def list_webhooks(self) -> list[WebhookEndpoint]:
        await self._call("list_webhooks")
        return [WebhookEndpoint(e.endpoint_id, e.url) for e in self.endpoints.values()]

    async def register_webhook(self, url: str) -> tuple[str, str]:
        await self._call("register_webhook")
        endpoint = _Endpoint(new_id("fake_wh"), url, f"fake_whsec_{secret_tokens.token_hex(16)}")
        self.endpoints[endpoint.endpoint_id] = endpoint
        return endpoint.endpoint_id, endpoint.secret

    async def delete_webhook(self, endpoint_id: str) -> None:
        await self._call("delete_webhook")
        self.endpoints.pop(endpoint_id, None)

    async def close(self) -> None:
        self.closed = True

    # --- test controls ------------------------------------------------------------------

    def approve(self, reference: str) -> PaymentSnapshot:
        """The payer approves: the whole amount is reserved (`authorized`)."""
        payment = self.ledger.find(reference)
        self.ledger.authorize(payment)
        return payment.snapshot()

    def decline(self, reference: str, reason: str = "card_declined") -> PaymentSnapshot:
        """The payer (or their bank, for `reason`) says no: `aborted`."""
        payment = self.ledger.find(reference)
        self.ledger.decline(payment, reason)
        return payment.snapshot()

    def expire(self, reference: str) -> PaymentSnapshot:
        """Nobody approved in time: `expired`."""
        payment = self.ledger.find(reference)
        self.ledger.expire(payment)
        return payment.snapshot()

    def release(self, reference: str) -> PaymentSnapshot:
        """The payer's bank releases what is reserved and not captured: `cancelled`."""
        payment = self.ledger.find(reference)
        self.ledger.release(payment)
        return payment.snapshot()

    def decline_reason(self, reference: str) -> str | None:
        return self.ledger.find(reference).decline_reason

    def fail_next(
        self,
        kind: FaultKind | str,
        *,
        times: int = 1,
        operation: str | None = None,
        reason: str = "card_declined",
        retry_after: timedelta = timedelta(seconds=1),
    ) -> None:
        """Make the next `times` calls (of `operation`, or any) fail with `kind`."""
        fault = Fault(FaultKind(kind), operation, reason, retry_after)
        self.faults.add(fault, times)

    def clear_faults(self) -> None:
        self.faults.clear()

    def pending_webhooks(self, reference: str | None = None) -> list[webhooks.Delivery]:
        """The webhooks sent and not yet taken, oldest first (without taking them)."""
        return [
            delivery
            for endpoint in self.endpoints.values()
            for delivery in endpoint.outbox
            if reference is None or delivery.reference == reference
        ]

    def emit_webhooks(
        self, reference: str | None = None, *, duplicate: bool = False, reorder: bool = False
    ) -> list[webhooks.Delivery]:
        """Take the pending webhooks (of one payment, or all): each twice with `duplicate`,
        newest first with `reorder` (as a network may deliver them)."""
        taken = self.pending_webhooks(reference)
        for endpoint in self.endpoints.values():
            endpoint.outbox = [d for d in endpoint.outbox if d not in taken]
        if reorder:
            taken.reverse()
        if duplicate:
            taken = [twice for delivery in taken for twice in (delivery, delivery)]
        return taken

    # --- helpers ------------------------------------------------------------------------

    def _send_event(self, payment: FakePayment, event: ProviderEvent) -> None:
        body = webhooks.event_body(event, payment.provider_reference)
        for endpoint in self.endpoints.values():
            headers = webhooks.signed_headers(endpoint.endpoint_id, endpoint.secret, body)
            delivery = webhooks.Delivery(
                endpoint.endpoint_id, endpoint.url, payment.reference, body, headers
            )
            endpoint.outbox.append(delivery)

    def _created(self, payment: FakePayment) -> CreatedPayment:
        flow = payment.request.user_flow
        url = None if flow is UserFlow.push else REDIRECT_BASE + payment.provider_reference
        return CreatedPayment(payment.reference, url, payment.provider_reference)

    def _check_create(self, request: CreatePayment) -> None:
        caps = self.capabilities
        if request.amount.currency not in caps.currencies:
            raise refused(f"this account takes no {request.amount.currency}", "currency")
        if request.amount.amount <= 0:
            raise refused("the amount must be positive", "amount")
        if not getattr(caps, request.user_flow.value):
            refusal = AccountRefusal.push if request.user_flow is UserFlow.push else None
            raise ProviderError(
                f"this account takes no {request.user_flow} payments",
                status=403,
                code="flow",
                refusal=refusal,
            )
        if request.expires_at is None:
            return
        minutes = (request.expires_at - self.now()).total_seconds() / 60
        if not caps.long_living or request.user_flow not in caps.long_living_flows:
            raise ProviderError(
                "this account may not set its own expiry",
                status=403,
                code="long_living",
                refusal=AccountRefusal.long_living,
            )
        if not caps.min_lifetime_minutes <= minutes <= caps.max_lifetime_minutes:
            raise refused(f"a lifetime of {minutes:.0f} minutes is not allowed", "lifetime")

    async def _call(self, operation: str) -> Fault | None:
        """Count the call and take its fault: one that strikes before the call is raised;
        `outcome_unknown` is returned, to strike after the call took effect."""
        self.calls.append(operation)
        fault = self.faults.take(operation)
        if fault is None or fault.kind is FaultKind.outcome_unknown:
            return fault
        raise fault.before(operation)

    async def _modify(
        self,
        operation: str,
        reference: str,
        amount: Money | None,
        key: str,
        change: Callable[[FakePayment], None],
    ) -> PaymentSnapshot:
        def apply() -> None:
            change(self.ledger.find(reference))

        await self._keyed(operation, reference, key, repr(amount), apply)
        return self.ledger.find(reference).snapshot()

    async def _keyed(
        self,
        operation: str,
        reference: str,
        key: str,
        fingerprint: str,
        action: Callable[[], CreatedPayment | None],
    ) -> CreatedPayment | None:
        """Run `action` once per idempotency key; replay its answer for the same call."""
        fault = await self._call(operation)
        answer = self.answers.get(key)
        if answer is not None:
            same = (answer.operation, answer.reference, answer.fingerprint)
            if same != (operation, reference, fingerprint):
                raise refused(f"idempotency key {key} was used for another call", "idempotency")
            if answer.error is not None:
                raise answer.error
            return answer.created
        answer = _Answer(operation, reference, fingerprint)
        try:
            answer.created = action()
        except ProviderError as exc:
            if exc.retryable:
                raise
            answer.error = exc
            self.answers[key] = answer
            raise
        self.answers[key] = answer
        if fault is not None:  # outcome_unknown: it happened, the answer is lost
            raise OutcomeUnknown(f"{operation} {reference}: the answer was lost")
        return answer.created
