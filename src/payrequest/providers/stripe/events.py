"""Stripe events (`evt_…`, a webhook's body or an entry of `GET /v1/events`) as neutral
events. Pure functions, no I/O (docs/stripe.md#events).

- checkout.session.completed, paid: captured, the whole amount (the request ends paid);
  unpaid (a delayed payment method): created, nothing to do yet.
- checkout.session.expired, payment_intent.canceled: terminated when an API call ended it
  (our cancel: the event's `request.id` is set), else expired (its time ran out).
- payment_intent.payment_failed: authorized with success False and the decline `reason`
  (the session stays open for another card).
- refund.created, refund.updated, charge.refunded: refunded, the refund's amount.

Our reference is the session's `client_reference_id`, or `metadata.reference` of the
PaymentIntent, refund or charge. The event's `evt_` id is its dedupe key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from payrequest.kit.money import Money
from payrequest.providers.base import EventName, ProviderEvent, WebhookUnreadable
from payrequest.providers.stripe.mapping import DECLINE_MESSAGES, DECLINED

Reader = Callable[[dict[str, Any]], tuple[EventName, bool, int, str]]


def from_stripe(
    event: dict[str, Any], *, merchant_id: str, reference: str | None = None
) -> ProviderEvent:
    """The neutral event of one Stripe event. `reference`: ours, when the caller knows it
    (the event log of one session) and the object may not carry it. WebhookUnreadable when
    it is not an event we read, or lacks what we need."""
    kind = event.get("type")
    if event.get("object") != "event" or kind not in READERS:
        raise WebhookUnreadable(f"not a Stripe event the adapter reads: {kind!r}")
    try:
        obj = event["data"]["object"]
        name, success, amount, psp_reference = READERS[kind](event)
        request = event.get("request") or {}
        return ProviderEvent(
            reference=reference or _our_reference(obj),
            name=name,
            psp_reference=psp_reference,
            amount=Money(amount, str(obj["currency"]).upper()),
            occurred_at=datetime.fromtimestamp(int(event["created"]), UTC),
            success=success,
            idempotency_key=request.get("idempotency_key"),
            merchant_id=merchant_id,
            event_id=str(event["id"]),
            reason=None if success else failure_reason(obj),
            message=None if success else failure_message(obj),
        )
    except WebhookUnreadable:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise WebhookUnreadable(f"unreadable Stripe {kind} event: {exc!r}") from exc


def _our_reference(obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    reference = obj.get("client_reference_id") or metadata.get("reference")
    if not isinstance(reference, str) or not reference:
        raise WebhookUnreadable(f"Stripe {obj.get('object')} {obj.get('id')} has no reference")
    return reference


def by_api_call(event: dict[str, Any]) -> bool:
    """Whether an API call caused the event (`request.id` set): an expiry we asked for."""
    request = event.get("request") or {}
    return bool(request.get("id"))


def _object(event: dict[str, Any]) -> dict[str, Any]:
    obj = event["data"]["object"]
    if not isinstance(obj, dict):
        raise TypeError("data.object is not an object")
    return obj


def _session_key(session: dict[str, Any]) -> str:
    intent = session.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    return str(intent or session["id"])


def _completed(event: dict[str, Any]) -> tuple[EventName, bool, int, str]:
    session = _object(event)
    paid = session.get("payment_status") == "paid"
    name = EventName.captured if paid else EventName.created
    return name, True, int(session["amount_total"]), _session_key(session)


def _expired(event: dict[str, Any]) -> tuple[EventName, bool, int, str]:
    session = _object(event)
    name = EventName.terminated if by_api_call(event) else EventName.expired
    return name, True, int(session["amount_total"]), _session_key(session)


def _intent_canceled(event: dict[str, Any]) -> tuple[EventName, bool, int, str]:
    intent = _object(event)
    name = EventName.terminated if by_api_call(event) else EventName.expired
    return name, True, int(intent["amount"]), str(intent["id"])


def _intent_failed(event: dict[str, Any]) -> tuple[EventName, bool, int, str]:
    """A declined attempt: the session stays open for another card. Keyed by the failed
    charge, so that each attempt is a line of its own."""
    intent = _object(event)
    error = intent.get("last_payment_error") or {}
    attempt = error.get("charge") or intent["id"]
    return EventName.authorized, False, int(intent["amount"]), str(attempt)


def _refund(event: dict[str, Any]) -> tuple[EventName, bool, int, str]:
    """A refund; one that Stripe reports failed or canceled is unsuccessful."""
    refund = _object(event)
    success = refund.get("status") not in ("failed", "canceled")
    return EventName.refunded, success, int(refund["amount"]), str(refund["id"])


def _charge_refunded(event: dict[str, Any]) -> tuple[EventName, bool, int, str]:
    """What this refund added to the charge's `amount_refunded` (all of it when the event
    does not say what it was before)."""
    charge = _object(event)
    total = int(charge["amount_refunded"])
    before = (event["data"].get("previous_attributes") or {}).get("amount_refunded")
    amount = total - int(before) if isinstance(before, int) else total
    return EventName.refunded, True, amount, str(charge["id"])


def failure_reason(obj: dict[str, Any]) -> str | None:
    """Why an attempt failed: a payment's decline code, else its error code; a refund's
    `failure_reason`."""
    error = obj.get("last_payment_error") or {}
    reason = error.get("decline_code") or error.get("code") or obj.get("failure_reason")
    return str(reason) if reason else None


def failure_message(obj: dict[str, Any]) -> str | None:
    """A failed card attempt's reason in plain words (a msgid); None for other failures."""
    if obj.get("object") != "payment_intent":
        return None
    return DECLINE_MESSAGES.get(failure_reason(obj) or "", DECLINED)


READERS: dict[str, Reader] = {  # the event types read, and how
    "checkout.session.completed": _completed,
    "checkout.session.expired": _expired,
    "payment_intent.canceled": _intent_canceled,
    "payment_intent.payment_failed": _intent_failed,
    "refund.created": _refund,
    "refund.updated": _refund,
    "charge.refunded": _charge_refunded,
}
