"""VippsProvider: the neutral PaymentProvider on the ePayment, Webhooks and Userinfo APIs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from payrequest.errors import PayrequestError
from payrequest.kit.clock import utcnow
from payrequest.kit.markets import currency_of
from payrequest.kit.money import Money
from payrequest.providers.base import (
    Capabilities,
    CreatedPayment,
    CreatePayment,
    OutcomeUnknown,
    PaymentNotFound,
    PaymentSnapshot,
    ProviderError,
    ProviderEvent,
    ProviderState,
    TryAgainLater,
    WebhookEndpoint,
    WebhookUnreadable,
)
from payrequest.providers.vipps import signature, wire
from payrequest.providers.vipps.client import VippsClient
from payrequest.providers.vipps.mapping import (
    ACCOUNT_REFUSALS,
    CANCEL_UNCONFIRMED,
    STAFF_MESSAGES,
    WEBHOOK_EVENTS,
)
from payrequest.providers.vipps.userinfo import SharedPhones

PAYMENTS = "/epayment/v1/payments"
WEBHOOKS = "/webhooks/v1/webhooks"
NORWAY_MAX_MINUTES = 24 * 60
# Create refused because the key or the reference was used before (docs/vipps.md#idempotency).
ALREADY_CREATED_CODES = frozenset({"4020", "4150"})
MAX_MINUTES = 60 * 24 * 60


def capabilities_for(market: str, *, long_living: bool) -> Capabilities:
    """A sales unit takes its market's currency only (docs/vipps.md#amounts-and-currencies)."""
    currencies = frozenset({currency_of(market)})
    if not long_living:
        return Capabilities(long_living=False, max_lifetime_minutes=10, currencies=currencies)
    limit = NORWAY_MAX_MINUTES if market == "NO" else MAX_MINUTES
    return Capabilities(long_living=True, max_lifetime_minutes=limit, currencies=currencies)


class VippsProvider:
    name = "vipps"

    def __init__(
        self,
        client: VippsClient,
        *,
        webhook_url: str,
        capabilities: Capabilities,
        check_webhook_date: bool = True,
    ) -> None:
        self.client = client
        self.merchant_id = client.credentials.merchant_serial_number
        self.webhook_url = webhook_url
        self.capabilities = capabilities
        self.check_webhook_date = check_webhook_date
        self.shared_phones = SharedPhones(client)

    async def close(self) -> None:
        await self.client.close()

    async def create_payment(self, request: CreatePayment) -> CreatedPayment:
        """Create once. A lost answer is resolved by GET, then a retry with the same key."""
        body = wire.create_body(request)
        for _ in range(2):
            try:
                response = await self.client.call(
                    "POST", PAYMENTS, json=body, idempotency_key=request.idempotency_key
                )
            except TryAgainLater:
                raise  # refused before it was made: the caller sends it again after the wait
            except ProviderError as exc:
                if not exc.retryable:
                    raise
                existing = await self._existing(request.reference)
                if existing is not None:
                    return existing
                continue  # not there: safe to send again with the same Idempotency-Key
            if response.status_code in (200, 201):
                data = response.json()
                return CreatedPayment(str(data["reference"]), data.get("redirectUrl"))
            error = self.client.problem(response)
            if error.code in ALREADY_CREATED_CODES:
                # Another attempt of ours got there first (a job and an inline send, or a
                # retry whose answer was lost): the payment exists, and that is success.
                existing = await self._existing(request.reference)
                if existing is not None:
                    return existing
            raise _staff_readable(error)
        raise OutcomeUnknown(f"create {request.reference}: provider did not answer")

    async def _existing(self, reference: str) -> CreatedPayment | None:
        try:
            response = await self.client.call("GET", f"{PAYMENTS}/{reference}")
        except ProviderError:
            raise OutcomeUnknown(f"create {reference}: outcome unknown") from None
        if response.status_code == 200:
            return CreatedPayment(reference, response.json().get("redirectUrl"))
        error = self.client.problem(response)
        if isinstance(error, PaymentNotFound):
            return None
        raise OutcomeUnknown(f"create {reference}: outcome unknown ({error})")

    async def get_payment(self, reference: str) -> PaymentSnapshot:
        """The payment, with the phone number its payer shared (when it asked for sharing)."""
        response = await self.client.call("GET", f"{PAYMENTS}/{reference}")
        if response.status_code != 200:
            raise self.client.problem(response)
        data = response.json()
        snapshot = wire.parse_payment(data)
        sub = wire.profile_sub(data)
        if sub is None:
            return snapshot
        phone = await self.shared_phones.phone(reference, sub)
        return replace(snapshot, payer_phone=phone) if phone else snapshot

    async def get_events(self, reference: str) -> list[ProviderEvent]:
        response = await self.client.call("GET", f"{PAYMENTS}/{reference}/events")
        if response.status_code != 200:
            raise self.client.problem(response)
        return [wire.parse_event(item) for item in response.json()]

    async def _modify(
        self, reference: str, operation: str, body: dict[str, Any], idempotency_key: str
    ) -> PaymentSnapshot:
        response = await self.client.call(
            "POST",
            f"{PAYMENTS}/{reference}/{operation}",
            json=body,
            idempotency_key=idempotency_key,
        )
        if response.status_code != 200:
            raise _staff_readable(self.client.problem(response))
        return await self.get_payment(reference)

    async def capture(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> PaymentSnapshot:
        body = {"modificationAmount": wire.amount_to_wire(amount)}
        return await self._modify(reference, "capture", body, idempotency_key)

    async def cancel(self, reference: str, *, idempotency_key: str) -> PaymentSnapshot:
        """Cancel a payment nobody approved. PaymentNotFound only for 5090 "Reference not
        found"; any other 404 is settled by GET, or refused with CANCEL_UNCONFIRMED
        (docs/vipps.md#capture-cancel-and-refund)."""
        body = {"cancelTransactionOnly": True}  # never release an authorization by accident
        try:
            return await self._modify(reference, "cancel", body, idempotency_key)
        except PaymentNotFound:
            raise
        except ProviderError as exc:
            if exc.status != 404:
                raise
        return await self._cancel_after_unclear_404(reference, body, idempotency_key)

    async def _cancel_after_unclear_404(
        self, reference: str, body: dict[str, Any], idempotency_key: str
    ) -> PaymentSnapshot:
        """A 404 without 5090 (a gateway's, a routing fault) says nothing about the payment:
        GET decides. Not found (5090) is definite; a final payment is the answer; one still
        open is cancelled once more with the same key (the 404 never reached it)."""
        try:
            snapshot = await self.get_payment(reference)
        except (PaymentNotFound, TryAgainLater):
            raise
        except ProviderError as exc:
            raise _unconfirmed(exc) from exc
        if snapshot.state not in (ProviderState.created, ProviderState.authorized):
            return snapshot
        try:
            return await self._modify(reference, "cancel", body, idempotency_key)
        except ProviderError as exc:
            if exc.status == 404:
                raise _unconfirmed(exc) from exc
            raise

    async def refund(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> PaymentSnapshot:
        body = {"modificationAmount": wire.amount_to_wire(amount)}
        return await self._modify(reference, "refund", body, idempotency_key)

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, secrets: Sequence[str]
    ) -> ProviderEvent:
        signature.verify(
            body=body,
            headers=headers,
            url=self.webhook_url,
            secrets=secrets,
            now=utcnow() if self.check_webhook_date else None,
        )
        return self.read_event(body)

    def read_event(self, body: bytes) -> ProviderEvent:
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise TypeError(f"a JSON {type(data).__name__}, not an object")
            return wire.parse_event(data)
        except (
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            ProviderError,
            PayrequestError,
        ) as exc:
            raise WebhookUnreadable(f"unreadable webhook body: {exc}") from exc

    # --- Webhook registrations (setup, not per payment) -----------------------------------

    async def list_webhooks(self) -> list[WebhookEndpoint]:
        response = await self.client.call("GET", WEBHOOKS)
        if response.status_code != 200:
            raise self.client.problem(response)
        hooks = response.json().get("webhooks") or []
        return [
            WebhookEndpoint(str(hook["id"]), str(hook["url"]))
            for hook in hooks
            if isinstance(hook, dict) and "id" in hook and "url" in hook
        ]

    async def register_webhook(self, url: str) -> tuple[str, str]:
        """Register `url` for every ePayment event; returns (id, secret)."""
        response = await self.client.call(
            "POST", WEBHOOKS, json={"url": url, "events": list(WEBHOOK_EVENTS)}
        )
        if response.status_code not in (200, 201):
            raise self.client.problem(response)
        data = response.json()
        return str(data["id"]), str(data["secret"])

    async def delete_webhook(self, webhook_id: str) -> None:
        response = await self.client.call("DELETE", f"{WEBHOOKS}/{webhook_id}")
        if response.status_code not in (200, 204, 404):
            raise self.client.problem(response)


def _unconfirmed(cause: ProviderError) -> ProviderError:
    """The cancel could not be confirmed either way: staff are asked to try again."""
    return ProviderError(
        CANCEL_UNCONFIRMED,
        status=cause.status,
        code=cause.code,
        trace_id=cause.trace_id,
        retryable=True,
        detail=cause.message,
    )


def _staff_readable(error: ProviderError) -> ProviderError:
    """Swap the provider's title for a sentence staff can act on, keeping code and trace,
    and say when the refusal is about the sales unit rather than this payment."""
    known = STAFF_MESSAGES.get(error.code or "")
    if known:
        error.message = known
    error.refusal = ACCOUNT_REFUSALS.get(error.code or "")
    return error
