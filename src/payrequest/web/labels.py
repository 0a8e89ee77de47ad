"""Words for the codes staff see on pages: where a payment request came from, what moved it,
a refund's status, a provider's event, an automation's event, action and fields, a role, a
language, a country. The codes stay in the database; pages show `label(code, kind)` (the
`label` filter) in the reader's language. A code without a word is shown as it is.
"""

from __future__ import annotations

from babel import Locale

from payrequest.automations.ready_made import is_ready_made_name
from payrequest.errors import N_
from payrequest.web import i18n

LABELS: dict[str, dict[str, str]] = {
    # payment_requests.state.ORIGINS: who started a payment request
    "origin": {
        "staff": N_("Staff member"),
        "portal": N_("Customer portal"),
        "bulk": N_("Bulk send"),
        "api": "API",  # the same word in every language
        "automation": N_("Automation"),
    },
    # what moved a payment request (its timeline's `source`)
    "source": {
        "webhook": N_("notice from the payment provider"),
        "poll": N_("status check"),
        "user": N_("staff member"),
        "system": N_("automatic"),
    },
    # ledger.models.REFUND_STATUSES
    "refund_status": {
        "pending": N_("Pending"),
        "succeeded": N_("Refunded"),
        "failed": N_("Failed"),
    },
    # providers.base.EventName: what the payment provider told us
    "provider_event": {
        "created": N_("Created"),
        "authorized": N_("Approved"),
        "aborted": N_("Declined by the customer"),
        "expired": N_("Expired"),
        "terminated": N_("Cancelled"),
        "cancelled": N_("Reservation released"),
        "captured": N_("Captured"),
        "refunded": N_("Refunded"),
    },
    # events.names.ALL_EVENTS: what starts a flow
    "event": {
        "payment_request.created": N_("Payment request created"),
        "payment_request.authorized": N_("Payment request approved"),
        "payment_request.paid": N_("Payment request paid"),
        "payment_request.failed": N_("Payment request failed"),
        "payment_request.rejected": N_("Payment request declined"),
        "payment_request.expired": N_("Payment request expired"),
        "payment_request.cancelled": N_("Payment request cancelled"),
        "payment_request.refunded": N_("Payment request refunded"),
        "invoice.paid": N_("Invoice paid"),
        "invoice.created": N_("Invoice created"),
        "invoice.updated": N_("Invoice changed"),
        "invoice.voided": N_("Invoice voided"),
        "credit.created": N_("Credit created"),
        "credit.applied": N_("Credit applied to invoices"),
        "credit.taken_back": N_("Credit taken back from an invoice"),
        "manual_payment.recorded": N_("Manual payment recorded"),
        "manual_payment.undone": N_("Manual payment undone"),
        "refund.succeeded": N_("Refund completed"),
        "refund.failed": N_("Refund failed"),
        # automations.timing.TIME_TRIGGERS
        "schedule.invoice_due": N_("An invoice is due in N days"),
        "schedule.invoice_overdue": N_("An invoice is overdue by N days"),
        "schedule.credit_unused": N_("A customer's credit has been unused for N days"),
    },
    # automations.actions.KINDS
    "action_kind": {
        "sms": N_("Send SMS"),
        "email": N_("Send email"),
        "webhook": N_("Call a webhook"),
        "wait": N_("Wait"),
        "portal_link": N_("Send a portal link"),
        "payment_request": N_("Send a payment request"),
        "notify_staff": N_("Tell the staff by email"),
    },
    # what an action's run log shows (its rendered message)
    "action_field": {
        "to": N_("To"),
        "channel": N_("Send by"),
        "subject": N_("Subject"),
        "text": N_("Text"),
        "html": "HTML",
        "url": "URL",
        "body": N_("Body"),
        "minutes": N_("Minutes"),
        "language": N_("Language"),
        "reference": N_("Payment request"),
        "amount": N_("Amount"),
    },
    "channel": {"sms": "SMS", "email": N_("Email"), "app": N_("Push to the payment app")},
    # ledger.models.MANUAL_METHODS: how money staff record by hand was paid
    "manual_method": {
        "bank_transfer": N_("Bank transfer"),
        "cash": N_("Cash"),
        "card": N_("Card"),
        "other": N_("Other"),
    },
    # users.models.ROLES
    "role": {"owner": N_("Owner"), "staff": N_("Staff"), "readonly": N_("Read only")},
    # i18n.LANGUAGES, named in the reader's language (the language menu names each in its own)
    "language": {"nb": N_("Norwegian"), "da": N_("Danish"), "en": N_("English")},
    # public.event_types.EVENT_TYPES: what a webhook endpoint may subscribe to
    "webhook_event": {
        "invoice.created": N_("An invoice is created"),
        "invoice.updated": N_("An invoice is changed"),
        "invoice.voided": N_("An invoice is voided"),
        "invoice.paid": N_("An invoice is paid in full"),
        "invoice.partially_paid": N_("Part of an invoice is paid"),
        "payment_request.created": N_("A payment request is created"),
        "payment_request.pending": N_("A payment request waits for the customer"),
        "payment_request.paid": N_("A payment request is paid"),
        "payment_request.failed": N_("A payment request failed or was declined"),
        "payment_request.expired": N_("A payment request expired"),
        "payment_request.cancelled": N_("A payment request was cancelled"),
        "refund.succeeded": N_("A refund is completed"),
        "refund.failed": N_("A refund failed"),
        "credit.created": N_("A customer got credit"),
        "credit.applied": N_("Credit was applied to invoices"),
        "credit.taken_back": N_("Credit was taken back from an invoice"),
        "manual_payment.recorded": N_("A payment is recorded by hand"),
        "manual_payment.undone": N_("A payment recorded by hand is undone"),
        "customer.phone_learned": N_("A payer shared their mobile number"),
        "webhook_endpoint.test": N_("Test event"),
    },
    # webhooks.models.DELIVERY_STATUSES
    "webhook_delivery": {
        "pending": N_("Waiting"),
        "delivered": N_("Delivered"),
        "failed": N_("Failed"),
    },
    # webhooks.public.endpoint_status
    "webhook_endpoint": {
        "enabled": N_("On"),
        "disabled": N_("Off"),
        "failing": N_("Switched off: it kept failing"),
    },
}


def label(code: object, kind: str) -> str:
    """The word for `code` in the reader's language; the code itself if there is none."""
    text = "" if code is None else str(code)
    if kind == "country":
        return country(text)
    word = LABELS.get(kind, {}).get(text)
    return i18n.gettext(word) if word else text


def country(code: str) -> str:
    """A country code (NO, DK, ...) as the reader's language names the country."""
    name = Locale.parse(i18n.babel_locale()).territories.get(code.upper())
    return str(name) if name else code


def time_trigger(trigger: str, days: int) -> str:
    """A time-triggered flow's trigger with its number of days, in the reader's language:
    "An invoice is due in 3 days". (Each ngettext call is written out for `make translations`.)"""
    if trigger == "schedule.invoice_due":
        if days == 0:
            return i18n.gettext("An invoice is due today")
        return i18n.ngettext(
            "An invoice is due in %(num)d day", "An invoice is due in %(num)d days", days
        ) % {"num": days}
    if trigger == "schedule.invoice_overdue":
        if days == 0:
            return i18n.gettext("An invoice is due today")
        return i18n.ngettext(
            "An invoice is overdue by %(num)d day", "An invoice is overdue by %(num)d days", days
        ) % {"num": days}
    if trigger == "schedule.credit_unused":
        return i18n.ngettext(
            "A customer's credit has been unused for %(num)d day",
            "A customer's credit has been unused for %(num)d days",
            days,
        ) % {"num": days}
    return label(trigger, "event")


def flow_name(name: str) -> str:
    """A ready-made flow's unchanged name in the reader's language; others as staff wrote them."""
    return i18n.gettext(name) if is_ready_made_name(name) else name
