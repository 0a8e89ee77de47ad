"""The flows payrequest ships: the two every installation starts with (inserted switched off
by migration 0004, their texts given Norwegian and Danish versions by migration 0008), and the
friendly reminder ladder (`ladder`), which the demo adds switched off.

Their names are stored in English; while a name is unchanged it is one of these message ids,
and pages show it in the reader's language.
"""

from __future__ import annotations

from typing import Any

from payrequest.automations import messages, timing
from payrequest.errors import N_

# The ladder: a reminder by SMS three days before the due date, a payment request on the due
# date, an email a week after, and word to staff two weeks after; each step once per invoice,
# only while something is open on it (automations.schedule), in the customer's language.
LADDER_SMS = N_("Reminder ladder 1: SMS three days before the due date")
LADDER_REQUEST = N_("Reminder ladder 2: payment request on the due date")
LADDER_EMAIL = N_("Reminder ladder 3: email a week after the due date")
LADDER_STAFF = N_("Reminder ladder 4: tell staff two weeks after the due date")

NAMES = frozenset(
    {
        N_("SMS receipt when a payment completes"),
        N_("Tell staff by email when a payment fails"),
        LADDER_SMS,
        LADDER_REQUEST,
        LADDER_EMAIL,
        LADDER_STAFF,
    }
)

_SMS = N_(
    "Hi {{ customer_name }}, a friendly reminder: invoice {{ invoice_numbers }} of {{ amount }} "
    "is due {{ due_date }}. See and pay it here: {{ portal_link }}"
)
_EMAIL_SUBJECT = N_("Invoice {{ invoice_numbers }} is overdue")
_EMAIL = N_(
    "Hello {{ customer_name }},\n\ninvoice {{ invoice_numbers }} of {{ amount }} was due "
    "{{ due_date }} and is still open. You can see and pay it here: {{ portal_link }}\n\n"
    "If you have paid in the meantime, thank you, and please disregard this message."
)
_STAFF_SUBJECT = N_("{{ customer_name }} has not paid invoice {{ invoice_numbers }}")
_STAFF = N_(
    "{{ customer_name }} ({{ customer_number }}) still owes {{ amount }} on invoice "
    "{{ invoice_numbers }}, due {{ due_date }}: two weeks overdue. Time to call?"
)


def is_ready_made_name(name: str) -> bool:
    return name in NAMES


def ladder(language: str) -> list[dict[str, Any]]:
    """The ladder's four flows as drafts (name, trigger, timing, actions) for
    automations.service.save; message texts in `language` and, as variants, the others."""

    def step(name: str, trigger: str, days: int, action: dict[str, Any]) -> dict[str, Any]:
        rules = timing.Timing(days=days, missed="late", quiet_hours=True, weekends=False)
        return {"name": name, "trigger": trigger, "timing": rules.stored(), "actions": [action]}

    link_by_sms = {
        "channel": "sms",
        **messages.in_every_language({"text": _SMS, "subject": ""}, language),
    }
    link_by_email = {
        "channel": "email",
        **messages.in_every_language({"subject": _EMAIL_SUBJECT, "text": _EMAIL}, language),
    }
    to_staff = messages.in_every_language({"subject": _STAFF_SUBJECT, "text": _STAFF}, language)
    return [
        step(LADDER_SMS, timing.INVOICE_DUE, 3, {"kind": "portal_link", "config": link_by_sms}),
        step(LADDER_REQUEST, timing.INVOICE_DUE, 0, {"kind": "payment_request", "config": {}}),
        step(
            LADDER_EMAIL,
            timing.INVOICE_OVERDUE,
            7,
            {"kind": "portal_link", "config": link_by_email},
        ),
        step(
            LADDER_STAFF, timing.INVOICE_OVERDUE, 14, {"kind": "notify_staff", "config": to_staff}
        ),
    ]
