"""Webhooks through the Stripe adapter: an endpoint registered by the adapter, deliveries from
the emulator to a real receiver read with parse_webhook (a decline with its reason, a payment,
an expiry, refunds), forged, stale and rotated signatures, and the event log of one payment."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import stripe

from payrequest.kit.money import Money
from payrequest.providers.base import (
    EventName,
    ProviderEvent,
    WebhookRejected,
    WebhookSecretUnknown,
    WebhookUnreadable,
)
from payrequest.providers.stripe import StripeProvider
from payrequest.providers.stripe.mapping import WEBHOOK_EVENTS
from tests.providers.stripe.conftest import ACCOUNT
from tests.providers.stripe.helpers import new_payment
from tests.sandbox.helpers import Receiver
from tests.sandbox.stripe.helpers import Emulator, pay

VISA = "4242424242424242"


async def _registered(provider: StripeProvider, receiver: Receiver) -> str:
    url = receiver.url("/webhooks/stripe")
    endpoint_id, secret = await provider.register_webhook(url)
    assert secret.startswith("whsec_")
    listed = await provider.list_webhooks()
    assert [(w.endpoint_id, w.url) for w in listed] == [(endpoint_id, url)]
    return secret


def _read(provider: StripeProvider, receiver: Receiver, secret: str) -> list[ProviderEvent]:
    return [
        provider.parse_webhook(call.body, call.headers, secrets=["whsec_old", secret])
        for call in receiver.ok()
    ]


async def test_a_decline_then_a_payment(
    provider: StripeProvider, receiver: Receiver, client: stripe.StripeClient
) -> None:
    secret = await _registered(provider, receiver)
    (endpoint,) = client.v1.webhook_endpoints.list().data
    assert sorted(endpoint.enabled_events) == sorted(WEBHOOK_EVENTS)
    request = new_payment(30000)
    created = await provider.create_payment(request)
    assert created.redirect_url and created.provider_reference
    pay(created.redirect_url, "4000000000009995")
    await receiver.wait_for(1)
    (failed,) = _read(provider, receiver, secret)
    assert (failed.reference, failed.name, failed.success) == (
        request.reference,
        EventName.authorized,
        False,
    )
    assert failed.reason == "insufficient_funds" and failed.psp_reference.startswith("ch_")
    assert failed.event_id is not None and failed.dedupe_key == failed.event_id
    assert failed.merchant_id == ACCOUNT and failed.amount == Money(30000, "NOK")
    pay(created.redirect_url, VISA)
    await receiver.wait_for(2)
    paid = _read(provider, receiver, secret)[1]
    assert (paid.reference, paid.name, paid.success, paid.amount) == (
        request.reference,
        EventName.captured,
        True,
        Money(30000, "NOK"),
    )
    assert paid.psp_reference.startswith("pi_") and paid.reason is None
    await provider.refund(created.provider_reference, Money(1000, "NOK"), idempotency_key="k1")
    await receiver.wait_for(3)
    refunded = _read(provider, receiver, secret)[2]
    assert (refunded.reference, refunded.name, refunded.amount.amount) == (
        request.reference,
        EventName.refunded,
        1000,
    )
    assert refunded.psp_reference.startswith("re_")
    log = await provider.get_events(created.provider_reference)
    assert [(e.name, e.success, e.event_id) for e in log] == [
        (e.name, e.success, e.event_id) for e in (failed, paid, refunded)
    ]


async def test_expired_by_time_and_by_our_cancel(
    provider: StripeProvider, receiver: Receiver, emulator: Emulator
) -> None:
    secret = await _registered(provider, receiver)
    by_time = await provider.create_payment(new_payment())
    assert by_time.redirect_url is not None
    pay(by_time.redirect_url, "4000000000000002")  # a PaymentIntent, canceled at expiry
    emulator.control("POST", "/clock/advance", json={"seconds": 24 * 3600 + 60})
    await receiver.wait_for(3)  # payment_failed, payment_intent.canceled, session expired
    assert {e.name for e in _read(provider, receiver, secret)[1:]} == {EventName.expired}
    receiver.calls.clear()
    ours = await provider.create_payment(new_payment())
    assert ours.provider_reference is not None
    await provider.cancel(ours.provider_reference, idempotency_key="k-cancel")
    await receiver.wait_for(1)
    (cancelled,) = _read(provider, receiver, secret)
    assert (cancelled.name, cancelled.success) == (EventName.terminated, True)


async def test_forged_stale_and_rotated_signatures(
    provider: StripeProvider, receiver: Receiver
) -> None:
    secret = await _registered(provider, receiver)
    created = await provider.create_payment(new_payment())
    assert created.redirect_url is not None
    pay(created.redirect_url, VISA)
    await receiver.wait_for(1)
    call = receiver.ok()[0]
    tampered = call.body.replace(b'"amount_total": 49900', b'"amount_total": 1')
    assert tampered != call.body
    with pytest.raises(WebhookSecretUnknown):
        provider.parse_webhook(tampered, call.headers, secrets=[secret])
    with pytest.raises(WebhookSecretUnknown):
        provider.parse_webhook(call.body, call.headers, secrets=["whsec_other"])
    with pytest.raises(WebhookRejected) as unsigned:
        provider.parse_webhook(call.body, {"content-type": "application/json"}, secrets=[secret])
    assert not isinstance(unsigned.value, WebhookSecretUnknown)
    now = int(time.time())
    stale = _sign(secret, now - 400, call.body)
    with pytest.raises(WebhookRejected) as too_old:
        provider.parse_webhook(
            call.body, {"Stripe-Signature": f"t={now - 400},v1={stale}"}, secrets=[secret]
        )
    assert not isinstance(too_old.value, WebhookSecretUnknown)
    assert (
        provider.parse_webhook(
            call.body,
            {"Stripe-Signature": f"t={now},v1={_sign(secret, now, call.body)}"},
            secrets=[secret],
        ).name
        is EventName.captured
    )
    new_secret = "whsec_rotated_0123456789abcdef"
    rotating = ",".join(
        (
            f"t={now}",
            f"v1={_sign(new_secret, now, call.body)}",
            f"v1={_sign(secret, now, call.body)}",
            "v0=0123",
        )
    )
    for held in ([secret], [new_secret]):
        event = provider.parse_webhook(call.body, {"Stripe-Signature": rotating}, secrets=held)
        assert event.name is EventName.captured
    with pytest.raises(WebhookSecretUnknown):
        provider.parse_webhook(call.body, {"Stripe-Signature": rotating}, secrets=["whsec_x"])


def _sign(secret: str, timestamp: int, body: bytes) -> str:
    """A v1 signature as Stripe makes it (docs/stripe.md#webhooks)."""
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


async def test_unknown_and_unreadable_bodies_are_kept_not_applied(
    provider: StripeProvider,
) -> None:
    unknown = {"id": "evt_1", "object": "event", "type": "customer.created", "data": {}}
    with pytest.raises(WebhookUnreadable):
        provider.read_event(json.dumps(unknown).encode())
    for body in (b"not json", b"[1, 2]", b'{"object": "event"}'):
        with pytest.raises(WebhookUnreadable):
            provider.read_event(body)
    broken = {"id": "evt_2", "object": "event", "type": "checkout.session.expired", "data": {}}
    with pytest.raises(WebhookUnreadable):
        provider.read_event(json.dumps(broken).encode())


async def test_delete_webhook(provider: StripeProvider, receiver: Receiver) -> None:
    await _registered(provider, receiver)
    (endpoint,) = await provider.list_webhooks()
    await provider.delete_webhook(endpoint.endpoint_id)
    assert await provider.list_webhooks() == []
    await provider.delete_webhook(endpoint.endpoint_id)  # gone already: fine
