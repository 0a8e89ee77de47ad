"""StripeProvider: the neutral PaymentProvider on Checkout Sessions, Refunds, Events and
webhook endpoints (docs/stripe.md#the-stripe-adapter).

A payment is one Checkout Session: the flow keys it by the session's id (`cs_…`, what
create_payment returns as `provider_reference`), and Stripe carries our reference as the
session's `client_reference_id` and in the metadata of the session and its PaymentIntent.
Checkout captures at once, so a paid session is authorized and captured in one step.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.providers.base import (
    AlreadyAuthorized,
    Capabilities,
    CreatedPayment,
    CreatePayment,
    OutcomeUnknown,
    PaymentSnapshot,
    ProviderError,
    ProviderEvent,
    ProviderState,
    UserFlow,
    WebhookEndpoint,
    WebhookUnreadable,
)
from payrequest.providers.stripe import events, signature, wire
from payrequest.providers.stripe.client import StripeApi
from payrequest.providers.stripe.mapping import (
    NOT_PAID,
    OVER_CAPTURE,
    OVER_REFUND,
    REDIRECT_ONLY,
    WEBHOOK_EVENTS,
)

EXPANDED = ["payment_intent", "payment_intent.latest_charge"]
EVENT_LOG_LIMIT = 100  # get_events reads this many of the account's newest events

CAPABILITIES = Capabilities(
    push=False,
    qr=False,
    redirect=True,
    long_living=True,
    min_lifetime_minutes=30,
    max_lifetime_minutes=24 * 60,
    long_living_flows=frozenset({UserFlow.redirect}),
    refunds=True,
    currencies=frozenset({"NOK", "DKK", "SEK", "EUR"}),
)


class StripeProvider:
    name = "stripe"

    def __init__(
        self,
        api: StripeApi,
        *,
        merchant_id: str,
        webhook_url: str = "",
        capabilities: Capabilities = CAPABILITIES,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.api = api
        self.merchant_id = merchant_id  # the account's label: Stripe's events do not name it
        self.webhook_url = webhook_url  # where setup registers our endpoint (register_webhook)
        self.capabilities = capabilities
        self._now = now

    @property
    def _v1(self) -> Any:
        return self.api.sdk.v1

    async def close(self) -> None:
        await self.api.close()

    async def create_payment(self, request: CreatePayment) -> CreatedPayment:
        """One Checkout Session per idempotency key: a retry with the same key (after a lost
        answer) gets the same session back from Stripe (wire.create_key)."""
        if request.user_flow is not UserFlow.redirect:
            raise ProviderError(REDIRECT_ONLY, detail=f"user flow {request.user_flow.value}")
        params = wire.session_params(request, now=self._now())
        options = {"idempotency_key": wire.create_key(request, params)}
        session = await self.api.call(
            f"create {request.reference}",
            lambda: self._v1.checkout.sessions.create_async(params=params, options=options),
            changes=True,
        )
        return CreatedPayment(request.reference, session.url, provider_reference=session.id)

    async def _session(self, session_id: str) -> dict[str, Any]:
        session = await self.api.call(
            f"retrieve {session_id}",
            lambda: self._v1.checkout.sessions.retrieve_async(
                session_id, params={"expand": EXPANDED}
            ),
        )
        return cast(dict[str, Any], session.to_dict())

    async def get_payment(self, reference: str) -> PaymentSnapshot:
        """`reference`: the session's id, as create_payment returned it."""
        return wire.snapshot(await self._session(reference))

    async def capture(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> PaymentSnapshot:
        """Nothing to send: Checkout captured when the payer paid. Returns the payment as it
        stands; refused (not to be retried) while nothing is paid, or for more than was paid."""
        snapshot = await self.get_payment(reference)
        if snapshot.state is not ProviderState.authorized:
            raise ProviderError(NOT_PAID, detail=f"Checkout Session {reference}")
        if snapshot.captured < amount.amount:
            raise ProviderError(
                OVER_CAPTURE,
                detail=f"Checkout Session {reference}: {amount.amount} asked, "
                f"{snapshot.captured} paid",
            )
        return snapshot

    async def cancel(self, reference: str, *, idempotency_key: str) -> PaymentSnapshot:
        """Expire the open session: terminated. A paid one is AlreadyAuthorized; one that
        expired already is returned as it is."""
        options = {"idempotency_key": idempotency_key}
        try:
            session = await self.api.call(
                f"expire {reference}",
                lambda: self._v1.checkout.sessions.expire_async(reference, options=options),
                changes=True,
            )
        except ProviderError as exc:
            if exc.retryable or exc.status != 400:
                raise
            found = await self.get_payment(reference)  # not open any more: why?
            if found.state is ProviderState.authorized:
                raise AlreadyAuthorized(
                    "the payer paid first", code=exc.code, trace_id=exc.trace_id
                ) from exc
            if found.state is ProviderState.created:
                raise
            return found
        snapshot = wire.snapshot(cast(dict[str, Any], session.to_dict()))
        return replace(snapshot, state=ProviderState.terminated)

    async def refund(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> PaymentSnapshot:
        """Refund `amount` of the session's payment; our reference goes in the refund's
        metadata, so that its events name the payment request."""
        session = await self._session(reference)
        intent = wire.intent_id(session)
        if intent is None or wire.snapshot(session).state is not ProviderState.authorized:
            raise ProviderError(NOT_PAID, detail=f"Checkout Session {reference}")
        params = {
            "payment_intent": intent,
            "amount": amount.amount,
            "metadata": {"reference": wire.reference_of(session)},
        }
        options = {"idempotency_key": idempotency_key}
        try:
            await self.api.call(
                f"refund {reference}",
                lambda: self._v1.refunds.create_async(params=params, options=options),
                changes=True,
            )
        except ProviderError as exc:
            if not exc.retryable and exc.status == 400 and _over_refund(exc):
                exc.message = OVER_REFUND
            raise
        return await self.get_payment(reference)

    async def get_events(self, reference: str) -> list[ProviderEvent]:
        """The session's events among the account's newest EVENT_LOG_LIMIT of the types an
        endpoint gets (WEBHOOK_EVENTS), oldest first. Older ones are not looked for:
        get_payment is the safety net."""
        session = await self._session(reference)
        ours, intent = wire.reference_of(session), wire.intent_id(session)
        listed = await self.api.call(
            f"events of {reference}",
            lambda: self._v1.events.list_async(
                params={"types": list(WEBHOOK_EVENTS), "limit": EVENT_LOG_LIMIT}
            ),
        )
        found = []
        for item in reversed(listed.data):
            data = cast(dict[str, Any], item.to_dict())
            if _about(data, session_id=reference, intent_id=intent):
                try:
                    found.append(
                        events.from_stripe(data, merchant_id=self.merchant_id, reference=ours)
                    )
                except WebhookUnreadable:
                    continue
        return found

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, secrets: Sequence[str]
    ) -> ProviderEvent:
        signature.verify(body, headers, secrets=secrets, now=self._now().timestamp())
        return self.read_event(body)

    def read_event(self, body: bytes) -> ProviderEvent:
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise WebhookUnreadable(f"unreadable webhook body: {exc}") from exc
        if not isinstance(data, dict):
            raise WebhookUnreadable(f"a JSON {type(data).__name__}, not an event")
        return events.from_stripe(data, merchant_id=self.merchant_id)

    # --- Webhook endpoints (setup, not per payment) ---------------------------------------

    async def list_webhooks(self) -> list[WebhookEndpoint]:
        listed = await self.api.call(
            "list webhook endpoints",
            lambda: self._v1.webhook_endpoints.list_async(params={"limit": 100}),
        )
        return [WebhookEndpoint(str(we.id), str(we.url)) for we in listed.data]

    async def register_webhook(self, url: str) -> tuple[str, str]:
        """An endpoint for WEBHOOK_EVENTS at `url`; returns (id, signing secret)."""
        params = {"url": url, "enabled_events": list(WEBHOOK_EVENTS)}
        endpoint = await self.api.call(
            "create webhook endpoint",
            lambda: self._v1.webhook_endpoints.create_async(params=params),
            changes=True,
        )
        if not endpoint.secret:
            raise OutcomeUnknown("Stripe created a webhook endpoint without its secret")
        return str(endpoint.id), str(endpoint.secret)

    async def delete_webhook(self, endpoint_id: str) -> None:
        """Delete the endpoint; one Stripe does not have is gone already."""
        try:
            await self.api.call(
                f"delete webhook endpoint {endpoint_id}",
                lambda: self._v1.webhook_endpoints.delete_async(endpoint_id),
                changes=True,
            )
        except ProviderError as exc:
            if exc.status != 404:
                raise


def _over_refund(error: ProviderError) -> bool:
    """Whether a 400 refused a refund for being more than what is left."""
    return error.code == "charge_already_refunded" or "greater than" in (error.detail or "")


def _about(event: dict[str, Any], *, session_id: str, intent_id: str | None) -> bool:
    """Whether the event's object is the session, its PaymentIntent, or a refund or charge
    of that PaymentIntent."""
    obj = event.get("data", {}).get("object", {})
    if obj.get("id") == session_id:
        return True
    return intent_id is not None and intent_id in (obj.get("id"), obj.get("payment_intent"))
