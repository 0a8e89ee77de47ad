"""Webhook endpoints and deliveries: signed exactly as Stripe signs (checked with
`stripe.Webhook.construct_event`), retried after a failure, dropped, duplicated and reordered
by the switches; the same events in `GET /v1/events`."""

from __future__ import annotations

import json

import pytest
import stripe

from tests.sandbox.helpers import Receiver
from tests.sandbox.stripe.helpers import Emulator, pay, session_params

PAID = ["charge.succeeded", "payment_intent.succeeded", "checkout.session.completed"]


def _endpoint(client: stripe.StripeClient, receiver: Receiver, events: list[str]) -> str:
    endpoint = client.v1.webhook_endpoints.create(
        params={"url": receiver.url("/hooks/stripe"), "enabled_events": events}  # type: ignore[typeddict-item]
    )
    assert endpoint.secret is not None and endpoint.secret.startswith("whsec_")
    listed = client.v1.webhook_endpoints.list()
    assert [we.id for we in listed.data] == [endpoint.id]
    assert getattr(listed.data[0], "secret", None) is None  # only in the create answer
    return endpoint.secret


def _paid_session(client: stripe.StripeClient) -> str:
    session = client.v1.checkout.sessions.create(params=session_params())
    assert session.url is not None
    assert pay(session.url, "4242424242424242").status_code == 303
    return session.id


def _events(client: stripe.StripeClient, receiver: Receiver, secret: str) -> list[stripe.Event]:
    return [
        client.construct_event(call.body, call.headers["stripe-signature"], secret)
        for call in receiver.ok()
    ]


async def test_signed_deliveries_of_a_payment(
    client: stripe.StripeClient, receiver: Receiver
) -> None:
    secret = _endpoint(client, receiver, PAID)
    session_id = _paid_session(client)
    await receiver.wait_for(3)
    events = _events(client, receiver, secret)
    assert sorted(e.type for e in events) == sorted(PAID)
    completed = next(e for e in events if e.type == "checkout.session.completed")
    assert isinstance(completed.data.object, stripe.checkout.Session)
    assert completed.data.object.id == session_id
    assert completed.data.object.payment_status == "paid"
    assert (completed.livemode, completed.api_version) == (False, stripe.api_version)
    assert completed.request is not None and completed.pending_webhooks == 1
    assert all(c.path == "/hooks/stripe" for c in receiver.calls)
    with pytest.raises(stripe.SignatureVerificationError):
        tampered = receiver.calls[0].body.replace(b'"livemode": false', b'"livemode": true')
        stripe.Webhook.construct_event(
            tampered, receiver.calls[0].headers["stripe-signature"], secret
        )
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            receiver.calls[0].body, receiver.calls[0].headers["stripe-signature"], "whsec_wrong"
        )
    listed = client.v1.events.list(params={"type": "checkout.session.completed"})
    assert [e.id for e in listed.data] == [completed.id]
    assert client.v1.events.retrieve(completed.id).type == "checkout.session.completed"


async def test_decline_and_refund_events(client: stripe.StripeClient, receiver: Receiver) -> None:
    secret = _endpoint(client, receiver, ["*"])
    session = client.v1.checkout.sessions.create(params=session_params())
    assert session.url is not None
    pay(session.url, "4000000000009995")
    pay(session.url, "4242424242424242")
    intent = client.v1.checkout.sessions.retrieve(session.id).payment_intent
    assert isinstance(intent, str)
    client.v1.refunds.create(params={"payment_intent": intent, "amount": 100})
    types = [e.type for e in client.v1.events.list(params={"limit": 100}).data][::-1]
    assert types == [
        "payment_intent.created",
        "charge.failed",
        "payment_intent.payment_failed",
        *PAID,
        "refund.created",
        "charge.refunded",
    ]
    await receiver.wait_for(len(types))
    received = _events(client, receiver, secret)
    failed = next(e for e in received if e.type == "payment_intent.payment_failed")
    assert isinstance(failed.data.object, stripe.PaymentIntent)
    error = failed.data.object.last_payment_error
    assert error is not None and error.decline_code == "insufficient_funds"
    refunded = next(e for e in received if e.type == "charge.refunded")
    assert isinstance(refunded.data.object, stripe.Charge)
    assert refunded.data.object.amount_refunded == 100
    assert refunded.request is not None and refunded.request.id is not None


async def test_retry_after_a_500(
    client: stripe.StripeClient, receiver: Receiver, emulator: Emulator
) -> None:
    receiver.script.extend([500, 500])
    secret = _endpoint(client, receiver, ["checkout.session.completed"])
    _paid_session(client)
    await receiver.wait_for(1)
    assert [c.status for c in receiver.calls] == [500, 500, 200]
    assert receiver.calls[0].body == receiver.calls[2].body  # the same event again
    assert len(_events(client, receiver, secret)) == 1
    (delivery,) = emulator.control("GET", "/deliveries")
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 3)


async def test_duplicate_and_reorder_switches(
    client: stripe.StripeClient, receiver: Receiver, emulator: Emulator
) -> None:
    _endpoint(client, receiver, PAID)
    emulator.control("PATCH", "/faults", json={"webhook_reorder_rate": 1.0})
    _paid_session(client)
    await receiver.wait_for(3)
    order = [json.loads(c.body)["type"] for c in receiver.calls]
    assert sorted(order) == sorted(PAID) and order != PAID
    emulator.control(
        "PATCH", "/faults", json={"webhook_reorder_rate": 0.0, "webhook_duplicate_rate": 1.0}
    )
    receiver.calls.clear()
    _paid_session(client)
    await receiver.wait_for(6)
    ids = [json.loads(c.body)["id"] for c in receiver.calls]
    assert len(ids) == 6 and len(set(ids)) == 3


async def test_drop_switch_and_delete(
    client: stripe.StripeClient, receiver: Receiver, emulator: Emulator
) -> None:
    _endpoint(client, receiver, ["checkout.session.completed"])
    emulator.control("PATCH", "/faults", json={"webhook_drop_rate": 1.0})
    _paid_session(client)
    deliveries = emulator.control("GET", "/deliveries")
    assert [d["status"] for d in deliveries] == ["dropped"]
    assert receiver.calls == []
    endpoint = client.v1.webhook_endpoints.list().data[0]
    deleted = client.v1.webhook_endpoints.delete(endpoint.id)
    assert deleted.deleted is True
    assert client.v1.webhook_endpoints.list().data == []
    with pytest.raises(stripe.InvalidRequestError) as bad:
        client.v1.webhook_endpoints.create(
            params={"url": "http://127.0.0.1:9/x", "enabled_events": ["no.such"]},  # type: ignore[list-item]
        )
    assert bad.value.param == "enabled_events[0]"
