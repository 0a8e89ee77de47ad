"""Stripe events and sessions read without the network: every event type read_event takes,
what each does to a payment request (payment_requests.signals), and the create parameters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from payrequest.kit.money import Money
from payrequest.payment_requests.signals import from_event, steps
from payrequest.payment_requests.state import Status
from payrequest.providers.base import EventName, ProviderError, ProviderEvent, WebhookUnreadable
from payrequest.providers.stripe import wire
from payrequest.providers.stripe.events import from_stripe
from tests.providers.stripe.helpers import line, new_payment

REF = "pr-123"
CREATED = 1767225600


def _event(kind: str, obj: dict[str, Any], request_id: str | None = None, **data: Any) -> bytes:
    return json.dumps(
        {
            "id": f"evt_{kind}",
            "object": "event",
            "created": CREATED,
            "type": kind,
            "request": {"id": request_id, "idempotency_key": "key-1" if request_id else None},
            "data": {"object": obj, **data},
        }
    ).encode()


def _session(**fields: Any) -> dict[str, Any]:
    return {
        "id": "cs_test_1",
        "object": "checkout.session",
        "amount_total": 49900,
        "currency": "nok",
        "client_reference_id": REF,
        "metadata": {"reference": REF},
        "payment_intent": "pi_1",
        "payment_status": "paid",
        "status": "complete",
        **fields,
    }


def _intent(**fields: Any) -> dict[str, Any]:
    return {
        "id": "pi_1",
        "object": "payment_intent",
        "amount": 49900,
        "currency": "nok",
        "metadata": {"reference": REF},
        "last_payment_error": None,
        **fields,
    }


def _read(body: bytes) -> ProviderEvent:
    return from_stripe(json.loads(body), merchant_id="acct")


def test_a_completed_session_makes_the_request_paid() -> None:
    event = _read(_event("checkout.session.completed", _session()))
    assert (event.reference, event.name, event.success) == (REF, EventName.captured, True)
    assert (event.amount, event.psp_reference) == (Money(49900, "NOK"), "pi_1")
    assert event.occurred_at == datetime.fromtimestamp(CREATED, UTC)
    assert (event.event_id, event.dedupe_key, event.merchant_id) == (
        "evt_checkout.session.completed",
        "evt_checkout.session.completed",
        "acct",
    )
    outcome = from_event(event, amount=49900)
    assert steps(Status.pending, outcome) == [Status.authorized, Status.paid]
    assert steps(Status.sending, outcome) == [Status.pending, Status.authorized, Status.paid]
    assert steps(Status.paid, outcome) == []  # a second delivery changes nothing


def test_a_completed_but_unpaid_session_waits() -> None:
    event = _read(_event("checkout.session.completed", _session(payment_status="unpaid")))
    assert event.name is EventName.created
    assert steps(Status.pending, from_event(event, amount=49900)) == []


def test_expiry_by_time_and_by_an_api_call() -> None:
    expired = _session(status="expired", payment_status="unpaid", payment_intent=None)
    by_time = _read(_event("checkout.session.expired", expired))
    assert (by_time.name, by_time.psp_reference) == (EventName.expired, "cs_test_1")
    by_call = _read(_event("checkout.session.expired", expired, request_id="req_1"))
    assert by_call.name is EventName.terminated and by_call.idempotency_key == "key-1"
    canceled = _intent(status="canceled", cancellation_reason="abandoned")
    assert _read(_event("payment_intent.canceled", canceled)).name is EventName.expired
    assert (
        _read(_event("payment_intent.canceled", canceled, request_id="req_2")).name
        is EventName.terminated
    )
    late = from_event(by_time, amount=49900)
    assert steps(Status.pending, late) == [Status.expired]
    assert steps(Status.paid, late) == []  # after the payment: ignored


def test_a_failed_attempt_is_recorded_and_moves_nothing() -> None:
    error = {"code": "card_declined", "decline_code": "insufficient_funds", "charge": "ch_9"}
    event = _read(_event("payment_intent.payment_failed", _intent(last_payment_error=error)))
    assert (event.name, event.success, event.reason, event.psp_reference) == (
        EventName.authorized,
        False,
        "insufficient_funds",
        "ch_9",
    )
    three_d = {"code": "payment_intent_authentication_failure"}
    failed = _read(_event("payment_intent.payment_failed", _intent(last_payment_error=three_d)))
    assert (failed.reason, failed.psp_reference) == (
        "payment_intent_authentication_failure",
        "pi_1",
    )
    # In plain words for the timeline: the reason when we know it, else the generic decline.
    assert event.message == "The card was declined: not enough money on the account."
    assert failed.message == "The card was declined."
    assert steps(Status.pending, from_event(event, amount=49900)) == []
    assert steps(Status.sending, from_event(event, amount=49900)) == [Status.pending]


def test_refunds() -> None:
    refund = {
        "id": "re_1",
        "object": "refund",
        "amount": 1000,
        "currency": "nok",
        "metadata": {"reference": REF},
        "payment_intent": "pi_1",
        "status": "succeeded",
    }
    for kind in ("refund.created", "refund.updated"):
        event = _read(_event(kind, refund))
        assert (event.name, event.amount.amount, event.psp_reference, event.success) == (
            EventName.refunded,
            1000,
            "re_1",
            True,
        )
    failed = _read(
        _event("refund.updated", {**refund, "status": "failed", "failure_reason": "declined"})
    )
    assert (failed.success, failed.reason) == (False, "declined")
    charge = {
        "id": "ch_1",
        "object": "charge",
        "amount": 49900,
        "amount_refunded": 3000,
        "currency": "nok",
        "metadata": {"reference": REF},
    }
    body = _event("charge.refunded", charge, previous_attributes={"amount_refunded": 1000})
    assert (_read(body).name, _read(body).amount.amount) == (EventName.refunded, 2000)
    assert _read(_event("charge.refunded", charge)).amount.amount == 3000
    with pytest.raises(WebhookUnreadable):  # a charge need not carry our reference
        _read(_event("charge.refunded", {**charge, "metadata": {}}))
    assert steps(Status.paid, from_event(_read(body), amount=49900)) == []


def test_snapshot_of_a_session() -> None:
    intent = _intent(latest_charge={"id": "ch_1", "amount_refunded": 700}, status="succeeded")
    paid = wire.snapshot(_session(payment_intent=intent))
    assert (paid.state.value, paid.captured, paid.refunded, paid.psp_reference) == (
        "authorized",
        49900,
        700,
        "pi_1",
    )
    waiting = wire.snapshot(_session(status="open", payment_status="unpaid", payment_intent=None))
    assert (waiting.state.value, waiting.captured, waiting.psp_reference) == (
        "created",
        0,
        "cs_test_1",
    )
    with pytest.raises(ProviderError):
        wire.snapshot(_session(client_reference_id=None, metadata={}))


def test_create_parameters() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    request = new_payment(
        1000,
        return_url="https://pay.example/back?x=1#top",
        order_lines=[line("Credit", "1", -500, -500), line("Goods", "1", 1500, 1500)],
        expires_at=now + timedelta(hours=30),
        locale="xx",
    )
    params = wire.session_params(request, now=now)
    assert params["success_url"] == (
        "https://pay.example/back?x=1&session_id={CHECKOUT_SESSION_ID}#top"
    )
    assert params["cancel_url"] == "https://pay.example/back?x=1&cancelled=1#top"
    assert params["locale"] == "auto" and "customer_email" not in params
    assert [i["price_data"]["unit_amount"] for i in params["line_items"]] == [1000]
    assert params["expires_at"] == int((now + timedelta(hours=24, minutes=-1)).timestamp())
    assert (
        wire.create_key(request, params)
        == f"{request.idempotency_key}:expires-{params['expires_at']}"
    )
    soon = new_payment(expires_at=now + timedelta(minutes=5))
    assert wire.session_params(soon, now=now)["expires_at"] == int(
        (now + timedelta(minutes=31)).timestamp()
    )
    fits = new_payment(expires_at=now + timedelta(hours=2))
    fits_params = wire.session_params(fits, now=now)
    assert wire.create_key(fits, fits_params) == fits.idempotency_key
    assert [wire.whole_quantity(q) for q in ("2", "2.0", "1.5", "0", "x", "1e7")] == [
        2,
        2,
        None,
        None,
        None,
        None,
    ]
    with pytest.raises(ProviderError):
        wire.session_params(new_payment(return_url=None), now=now)
