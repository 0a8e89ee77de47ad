"""The public event types — what `GET /api/v1/events` lists and a webhook endpoint may subscribe
to — and the outbox event each one is made from (docs/webhooks.md, "Event types"). The
outbox's names are the product's own (automations trigger on them); these are the contract
with the business's systems: keep them stable, and add a new type rather than change what one
means."""

from __future__ import annotations

from typing import Final, Literal, get_args

from payrequest.events import names

# What an endpoint may subscribe to (the API's schema names them one by one).
EventType = Literal[
    "invoice.created",
    "invoice.updated",
    "invoice.voided",
    "invoice.paid",
    "invoice.partially_paid",
    "payment_request.created",
    "payment_request.pending",
    "payment_request.paid",
    "payment_request.failed",
    "payment_request.expired",
    "payment_request.cancelled",
    "refund.succeeded",
    "refund.failed",
    "credit.created",
    "credit.applied",
    "credit.taken_back",
    "manual_payment.recorded",
    "manual_payment.undone",
    "customer.phone_learned",
]
EVENT_TYPES: Final[tuple[str, ...]] = get_args(EventType)

INVOICE_CREATED: Final[EventType] = "invoice.created"
INVOICE_UPDATED: Final[EventType] = "invoice.updated"
INVOICE_VOIDED: Final[EventType] = "invoice.voided"
INVOICE_PAID: Final[EventType] = "invoice.paid"
INVOICE_PARTIALLY_PAID: Final[EventType] = "invoice.partially_paid"
PAYMENT_REQUEST_CREATED: Final[EventType] = "payment_request.created"
PAYMENT_REQUEST_PENDING: Final[EventType] = "payment_request.pending"
PAYMENT_REQUEST_PAID: Final[EventType] = "payment_request.paid"
PAYMENT_REQUEST_FAILED: Final[EventType] = "payment_request.failed"
PAYMENT_REQUEST_EXPIRED: Final[EventType] = "payment_request.expired"
PAYMENT_REQUEST_CANCELLED: Final[EventType] = "payment_request.cancelled"
REFUND_SUCCEEDED: Final[EventType] = "refund.succeeded"
REFUND_FAILED: Final[EventType] = "refund.failed"
CREDIT_CREATED: Final[EventType] = "credit.created"
CREDIT_APPLIED: Final[EventType] = "credit.applied"
CREDIT_TAKEN_BACK: Final[EventType] = "credit.taken_back"
MANUAL_PAYMENT_RECORDED: Final[EventType] = "manual_payment.recorded"
MANUAL_PAYMENT_UNDONE: Final[EventType] = "manual_payment.undone"
CUSTOMER_PHONE_LEARNED: Final[EventType] = "customer.phone_learned"
# Sent only by "Send test event", to that one endpoint, whatever types it subscribes to.
TEST: Final = "webhook_endpoint.test"


# Outbox event name -> the public type it is published as. Outbox events not named here
# (a payment approved before its capture, a payment request refunded — refund.* tell that —
# a phone number decided by staff) are not published. `payment_request.created` in the outbox
# means "the provider has it, the customer can pay" (status pending); the public
# `payment_request.created` is the request written.
FROM_OUTBOX: Final[dict[str, EventType]] = {
    names.PAYMENT_REQUEST_SENDING: PAYMENT_REQUEST_CREATED,
    names.PAYMENT_REQUEST_CREATED: PAYMENT_REQUEST_PENDING,
    names.PAYMENT_REQUEST_PAID: PAYMENT_REQUEST_PAID,
    names.PAYMENT_REQUEST_FAILED: PAYMENT_REQUEST_FAILED,
    names.PAYMENT_REQUEST_REJECTED: PAYMENT_REQUEST_FAILED,  # the payer said no
    names.PAYMENT_REQUEST_EXPIRED: PAYMENT_REQUEST_EXPIRED,
    names.PAYMENT_REQUEST_CANCELLED: PAYMENT_REQUEST_CANCELLED,
    names.INVOICE_CREATED: INVOICE_CREATED,
    names.INVOICE_UPDATED: INVOICE_UPDATED,
    names.INVOICE_VOIDED: INVOICE_VOIDED,
    names.INVOICE_PAID: INVOICE_PAID,
    names.INVOICE_PARTIALLY_PAID: INVOICE_PARTIALLY_PAID,
    names.REFUND_SUCCEEDED: REFUND_SUCCEEDED,
    names.REFUND_FAILED: REFUND_FAILED,
    names.CREDIT_CREATED: CREDIT_CREATED,
    names.CREDIT_APPLIED: CREDIT_APPLIED,
    names.CREDIT_TAKEN_BACK: CREDIT_TAKEN_BACK,
    names.MANUAL_PAYMENT_RECORDED: MANUAL_PAYMENT_RECORDED,
    names.MANUAL_PAYMENT_UNDONE: MANUAL_PAYMENT_UNDONE,
    names.CUSTOMER_PHONE_LEARNED: CUSTOMER_PHONE_LEARNED,
}


def public_type(outbox_name: str) -> EventType | None:
    """The public type an outbox event is published as; None: it is not published."""
    return FROM_OUTBOX.get(outbox_name)
