"""Names of domain events. Automations trigger on these; keep them stable."""

from __future__ import annotations

# Written (status sending) with its send job; `created` follows when the provider has it.
PAYMENT_REQUEST_SENDING = "payment_request.sending"
PAYMENT_REQUEST_CREATED = "payment_request.created"
PAYMENT_REQUEST_AUTHORIZED = "payment_request.authorized"
PAYMENT_REQUEST_PAID = "payment_request.paid"
PAYMENT_REQUEST_FAILED = "payment_request.failed"
PAYMENT_REQUEST_REJECTED = "payment_request.rejected"
PAYMENT_REQUEST_EXPIRED = "payment_request.expired"
PAYMENT_REQUEST_CANCELLED = "payment_request.cancelled"
PAYMENT_REQUEST_REFUNDED = "payment_request.refunded"
INVOICE_PAID = "invoice.paid"
# A payment, credit or manual payment paid part of an invoice and left the rest open.
INVOICE_PARTIALLY_PAID = "invoice.partially_paid"
INVOICE_CREATED = "invoice.created"
INVOICE_UPDATED = "invoice.updated"
INVOICE_VOIDED = "invoice.voided"
CREDIT_CREATED = "credit.created"
CREDIT_APPLIED = "credit.applied"
# Staff took one credit application back: the invoice is open again, the credit available.
CREDIT_TAKEN_BACK = "credit.taken_back"
MANUAL_PAYMENT_RECORDED = "manual_payment.recorded"
MANUAL_PAYMENT_UNDONE = "manual_payment.undone"
REFUND_SUCCEEDED = "refund.succeeded"
REFUND_FAILED = "refund.failed"
# A payer shared their phone number: saved as the customer's, or suggested to staff. Then
# staff used or dismissed a suggestion. For live pages (the customer card), not automations.
CUSTOMER_PHONE_LEARNED = "customer.phone_learned"
CUSTOMER_PHONE_DECIDED = "customer.phone_decided"

# Our request status -> the event announcing that the request reached it.
STATUS_EVENTS: dict[str, str] = {
    "pending": PAYMENT_REQUEST_CREATED,
    "authorized": PAYMENT_REQUEST_AUTHORIZED,
    "paid": PAYMENT_REQUEST_PAID,
    "failed": PAYMENT_REQUEST_FAILED,
    "rejected": PAYMENT_REQUEST_REJECTED,
    "expired": PAYMENT_REQUEST_EXPIRED,
    "cancelled": PAYMENT_REQUEST_CANCELLED,
    "refunded": PAYMENT_REQUEST_REFUNDED,
}

ALL_EVENTS: tuple[str, ...] = (
    *dict.fromkeys(STATUS_EVENTS.values()),
    INVOICE_PAID,
    INVOICE_CREATED,
    INVOICE_UPDATED,
    INVOICE_VOIDED,
    CREDIT_CREATED,
    CREDIT_APPLIED,
    CREDIT_TAKEN_BACK,
    MANUAL_PAYMENT_RECORDED,
    MANUAL_PAYMENT_UNDONE,
    REFUND_SUCCEEDED,
    REFUND_FAILED,
)
