"""The public event types an endpoint may subscribe to, and the outbox event each one is made
from (docs/webhooks.md, "Event types"). The outbox's names are the product's own (automations
trigger on them); these are the contract with the business's systems: keep them stable, and
add a new type rather than change what one means."""

from __future__ import annotations

from payrequest.events import names

INVOICE_PAID = "invoice.paid"
INVOICE_PARTIALLY_PAID = "invoice.partially_paid"
PAYMENT_REQUEST_CREATED = "payment_request.created"
PAYMENT_REQUEST_PENDING = "payment_request.pending"
PAYMENT_REQUEST_PAID = "payment_request.paid"
PAYMENT_REQUEST_FAILED = "payment_request.failed"
PAYMENT_REQUEST_EXPIRED = "payment_request.expired"
PAYMENT_REQUEST_CANCELLED = "payment_request.cancelled"
REFUND_SUCCEEDED = "refund.succeeded"
REFUND_FAILED = "refund.failed"
CREDIT_CREATED = "credit.created"
CREDIT_APPLIED = "credit.applied"
CUSTOMER_PHONE_LEARNED = "customer.phone_learned"
# Sent only by "Send test event", to that one endpoint, whatever types it subscribes to.
TEST = "webhook_endpoint.test"

EVENT_TYPES: tuple[str, ...] = (
    INVOICE_PAID,
    INVOICE_PARTIALLY_PAID,
    PAYMENT_REQUEST_CREATED,
    PAYMENT_REQUEST_PENDING,
    PAYMENT_REQUEST_PAID,
    PAYMENT_REQUEST_FAILED,
    PAYMENT_REQUEST_EXPIRED,
    PAYMENT_REQUEST_CANCELLED,
    REFUND_SUCCEEDED,
    REFUND_FAILED,
    CREDIT_CREATED,
    CREDIT_APPLIED,
    CUSTOMER_PHONE_LEARNED,
)

# Outbox event name -> the public type it is published as. Outbox events not named here
# (an invoice edited, a credit application taken back, a manual payment, ...) are not
# published. `payment_request.created` in the outbox means "the provider has it, the customer
# can pay" (status pending); the public `payment_request.created` is the request written.
FROM_OUTBOX: dict[str, str] = {
    names.PAYMENT_REQUEST_SENDING: PAYMENT_REQUEST_CREATED,
    names.PAYMENT_REQUEST_CREATED: PAYMENT_REQUEST_PENDING,
    names.PAYMENT_REQUEST_PAID: PAYMENT_REQUEST_PAID,
    names.PAYMENT_REQUEST_FAILED: PAYMENT_REQUEST_FAILED,
    names.PAYMENT_REQUEST_REJECTED: PAYMENT_REQUEST_FAILED,  # the payer said no
    names.PAYMENT_REQUEST_EXPIRED: PAYMENT_REQUEST_EXPIRED,
    names.PAYMENT_REQUEST_CANCELLED: PAYMENT_REQUEST_CANCELLED,
    names.INVOICE_PAID: INVOICE_PAID,
    names.INVOICE_PARTIALLY_PAID: INVOICE_PARTIALLY_PAID,
    names.REFUND_SUCCEEDED: REFUND_SUCCEEDED,
    names.REFUND_FAILED: REFUND_FAILED,
    names.CREDIT_CREATED: CREDIT_CREATED,
    names.CREDIT_APPLIED: CREDIT_APPLIED,
    names.CUSTOMER_PHONE_LEARNED: CUSTOMER_PHONE_LEARNED,
}


def public_type(outbox_name: str) -> str | None:
    """The public type an outbox event is published as; None: it is not published."""
    return FROM_OUTBOX.get(outbox_name)
